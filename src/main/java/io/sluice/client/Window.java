package io.sluice.client;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bound on a {@link Pipeline}'s unanswered publishes, in messages and payload bytes. Publishing
 * threads take a slot ({@link #acquire}), blocking on {@link #room} while it is full; whoever ends a
 * publish (the thread delivering its answer, or the one failing it) gives the slot back and wakes one
 * waiter. A message larger than the byte bound is still taken when nothing else is outstanding.
 */
final class Window {
    private final int maxCount;
    private final long maxBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private final Condition empty = lock.newCondition();
    private int count;     // guarded by lock
    private long bytes;    // guarded by lock
    private int waiters;   // guarded by lock

    Window(int maxCount, long maxBytes) {
        this.maxCount = maxCount;
        this.maxBytes = maxBytes;
    }

    /**
     * Takes a slot for a message of {@code size} bytes, waiting until {@code deadlineNanos} (a
     * {@link System#nanoTime()} value) for room; false when there was none by then. With
     * {@code overdraw} it takes the slot at once, full or not (for a caller that must not block).
     */
    boolean acquire(long size, long deadlineNanos, boolean overdraw) throws InterruptedException {
        lock.lock();
        try {
            while (!overdraw && !fits(size)) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                waiters++;
                try {
                    room.awaitNanos(left);
                } finally {
                    waiters--;
                }
            }
            count++;
            bytes += size;
            if (waiters > 0 && fits(0)) {
                room.signal();   // room for more than this one: pass the wake on
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    private boolean fits(long size) {
        return count == 0 || (count < maxCount && bytes + size <= maxBytes);
    }

    /** Gives back the slot of a message of {@code size} bytes. */
    void release(long size) {
        lock.lock();
        try {
            count--;
            bytes -= size;
            if (waiters > 0) {
                room.signal();
            }
            if (count == 0) {
                empty.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** How many publishes hold a slot now. */
    int outstanding() {
        lock.lock();
        try {
            return count;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until nothing is outstanding, at most {@code timeout}; false if something still is. */
    boolean awaitEmpty(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        lock.lock();
        try {
            while (count > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                empty.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
