package io.sluice.client;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bound on a {@link Pipeline}'s unanswered publishes, in messages and payload bytes. Publishing
 * threads take a slot ({@link #acquire}); whoever ends a publish (the thread delivering its answer, or
 * the one failing it) gives the slot back ({@link #release}). A message larger than the byte bound is
 * still taken when nothing else is outstanding.
 *
 * <p>Threads: taking and giving back are one compare-and-set on {@link #state} (the count and the bytes
 * packed in one long), so the publishing threads and the answering thread never wait for each other's
 * lock. Only a thread that finds the window full takes {@link #lock}, counts itself in {@link #waiters}
 * and waits on {@link #room}; a release that sees a waiter takes the lock to wake one.
 */
final class Window {
    private static final int COUNT_BITS = 24;
    private static final long COUNT_MASK = (1L << COUNT_BITS) - 1;
    /** Byte bounds above this are taken as this: the packed byte count must not overflow. */
    private static final long MAX_BYTES = 1L << 36;

    private final int maxCount;
    private final long maxBytes;
    private final AtomicLong state = new AtomicLong();   // bytes << COUNT_BITS | count
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private final Condition empty = lock.newCondition();
    private volatile int waiters;   // written under lock: threads waiting for room or for the window to empty
    private volatile boolean closed;

    Window(int maxCount, long maxBytes) {
        this.maxCount = maxCount;
        this.maxBytes = Math.min(maxBytes, MAX_BYTES);
    }

    /**
     * Takes a slot for a message of {@code size} bytes, waiting until {@code deadlineNanos} (a
     * {@link System#nanoTime()} value) for room; false when there was none by then. With
     * {@code overdraw} it takes the slot at once, full or not (for a caller that must not block).
     */
    boolean acquire(long size, long deadlineNanos, boolean overdraw) throws InterruptedException {
        if (tryTake(size, overdraw)) {
            return true;
        }
        lock.lock();
        try {
            waiters++;
            try {
                while (!tryTake(size, false)) {
                    long left = deadlineNanos - System.nanoTime();
                    if (left <= 0 || closed) {
                        return false;
                    }
                    room.awaitNanos(left);
                }
            } finally {
                waiters--;
            }
            if (waiters > 0 && fits(state.get(), 0)) {
                room.signal();   // room for more than this one: pass the wake on
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    private boolean tryTake(long size, boolean overdraw) {
        long add = (Math.min(size, MAX_BYTES) << COUNT_BITS) + 1;
        for (;;) {
            long s = state.get();
            if (!overdraw && !fits(s, size)) {
                return false;
            }
            if (state.compareAndSet(s, s + add)) {
                return true;
            }
        }
    }

    private boolean fits(long s, long size) {
        long count = s & COUNT_MASK;
        return count == 0 || (count < maxCount && (s >>> COUNT_BITS) + size <= maxBytes);
    }

    /** Gives back the slot of a message of {@code size} bytes. */
    void release(long size) {
        long s = state.addAndGet(-((Math.min(size, MAX_BYTES) << COUNT_BITS) + 1));
        if (waiters > 0) {   // read after the release: a waiter counted before it is woken, one after sees the room
            lock.lock();
            try {
                room.signal();
                if ((s & COUNT_MASK) == 0) {
                    empty.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** Wakes every caller waiting for room: they take none (the client is closing). */
    void close() {
        closed = true;
        lock.lock();
        try {
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** How many publishes hold a slot now. */
    int outstanding() {
        return (int) (state.get() & COUNT_MASK);
    }

    /** Waits until nothing is outstanding, at most {@code timeout}; false if something still is. */
    boolean awaitEmpty(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        lock.lock();
        try {
            waiters++;
            try {
                while (outstanding() > 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    empty.awaitNanos(left);
                }
                return true;
            } finally {
                waiters--;
            }
        } finally {
            lock.unlock();
        }
    }
}
