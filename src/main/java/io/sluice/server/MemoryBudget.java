package io.sluice.server;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one budget for the bytes of every publish the broker holds, from the moment its message is
 * read off the connection until its answer is sent: unary Publish, BatchPublish and each request of
 * a PublishStream alike. A call reads its next message only once the budget has granted room for it
 * ({@link #takeOrWait}); while the budget is spent, calls wait in arrival order and their bytes stay
 * unread in the transport, where HTTP/2 flow control pushes back on the producer. That keeps the
 * heap bounded under any load: publishers are slowed, never dropped.
 *
 * <p>Something larger than the whole budget is still let in, alone (once nothing else is held), so
 * a limit set below the largest message cannot wedge publishing.
 *
 * <p>Threading: any thread takes and releases; a waiter's callback runs on the thread whose release
 * made room, outside the lock, and must only hand on (request a message from gRPC, signal).
 */
final class MemoryBudget {
    private record Waiter(long bytes, Runnable granted) {
    }

    /** The grants this thread is running now (see {@link #run}), or null. */
    private static final ThreadLocal<ArrayDeque<Runnable>> GRANTING = new ThreadLocal<>();
    private final long limit;
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Waiter> waiting = new ArrayDeque<>();   // guarded by lock
    private long used;                                               // guarded by lock

    MemoryBudget(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the memory budget must be positive, not " + limit);
        }
        this.limit = limit;
    }

    long limit() {
        return limit;
    }

    /** Bytes held now (may exceed the limit by what {@link #force} added). */
    long used() {
        lock.lock();
        try {
            return used;
        } finally {
            lock.unlock();
        }
    }

    /** Calls waiting for room now. */
    int waiting() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes {@code bytes} now and answers true when they fit and nobody waits before; else queues
     * {@code granted}, which runs once the bytes have been taken for it, and answers false.
     */
    boolean takeOrWait(long bytes, Runnable granted) {
        lock.lock();
        try {
            if (waiting.isEmpty() && fits(bytes)) {
                used += bytes;
                return true;
            }
            waiting.add(new Waiter(bytes, granted));
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Adds bytes already in memory (a message larger than the room taken for it), even past the limit. */
    void force(long bytes) {
        if (bytes <= 0) {
            return;
        }
        lock.lock();
        try {
            used += bytes;
        } finally {
            lock.unlock();
        }
    }

    /** Gives bytes back, then lets in the waiters that now fit, in order. */
    void release(long bytes) {
        if (bytes <= 0) {
            return;
        }
        var granted = new ArrayList<Runnable>();
        lock.lock();
        try {
            used -= bytes;
            Waiter next;
            while ((next = waiting.peek()) != null && fits(next.bytes)) {
                waiting.poll();
                used += next.bytes;
                granted.add(next.granted);
            }
        } finally {
            lock.unlock();
        }
        run(granted);
    }

    /**
     * Runs the grants of a release. A grant may release in turn on the same thread (it asks gRPC for
     * its message, which may be in already and be delivered at once, giving back the room it took
     * beyond its size), so grants met while this thread is already running some are queued for that
     * outer loop: one frame deep whatever the number of waiters, where running them nested overflowed
     * the stack of a transport thread with a thousand publishes waiting.
     */
    private static void run(ArrayList<Runnable> granted) {
        if (granted.isEmpty()) {
            return;
        }
        ArrayDeque<Runnable> pending = GRANTING.get();
        if (pending != null) {
            pending.addAll(granted);
            return;
        }
        pending = new ArrayDeque<>(granted);
        GRANTING.set(pending);
        RuntimeException failed = null;
        try {
            for (Runnable r; (r = pending.poll()) != null; ) {
                try {
                    r.run();
                } catch (RuntimeException e) {   // one waiter's failure never strands the others
                    failed = failed == null ? e : failed;
                }
            }
        } finally {
            GRANTING.remove();
        }
        if (failed != null) {
            throw failed;
        }
    }

    private boolean fits(long bytes) {   // guarded by lock
        return used + bytes <= limit || used <= 0;
    }
}
