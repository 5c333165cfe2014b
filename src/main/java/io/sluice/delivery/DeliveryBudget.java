package io.sluice.delivery;

import io.sluice.domain.Attributes;
import io.sluice.store.StoredMessage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The one budget for the bytes of messages every Subscribe stream holds outside the store: read and
 * not sent yet, and sent but still queued in the transport (until the stream's transport is ready
 * again, which it is once the client has read them). A stream takes room before each read and waits
 * (a while at a time, so its loop can end or send heartbeats) while the budget is spent; after it, its
 * charge becomes what it really holds. So clients that never read, however many, hold at most the
 * budget between them, and the heap stays bounded: other streams are slowed, the broker never runs
 * out of memory.
 *
 * <p>A read larger than the whole budget still goes when no other stream holds anything, so a budget
 * set below the largest message cannot wedge delivery. A stream that already holds read messages
 * sends them without asking again; only a read into an empty stream waits, so a stream's holding
 * grows past its room by at most the batches it reads ahead. Any thread releases; streams' loops take.
 */
final class DeliveryBudget {
    private final long limit;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private long used;                // guarded by lock
    /** Of {@link #used}: what ended streams' transports hold for clients that read nothing ({@link TransportHold}). */
    final java.util.concurrent.atomic.AtomicLong ended = new java.util.concurrent.atomic.AtomicLong();
    private int waiting;              // guarded by lock: streams waiting for room
    private volatile long largest;    // the largest message read so far (bytes), for the room a read needs

    DeliveryBudget(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the delivery budget must be positive, not " + limit);
        }
        this.limit = limit;
    }

    long limit() {
        return limit;
    }

    /** Bytes held now. */
    long used() {
        lock.lock();
        try {
            return used;
        } finally {
            lock.unlock();
        }
    }

    /** True while a stream waits for room (a stream whose client does not read may then be ended). */
    boolean contended() {
        lock.lock();
        try {
            return waiting > 0;
        } finally {
            lock.unlock();
        }
    }

    /** What a message holds in memory, as the budget counts it: payload, attributes and a little more. */
    static long bytesOf(StoredMessage m) {
        return m.payload().size() + Attributes.size(m.attributes())
                + (long) Attributes.HEAP_PER_ATTRIBUTE * m.attributes().size() + 64;
    }

    /** The largest message read so far, in bytes (0 before the first). */
    long largest() {
        return largest;
    }

    /** Notes a message of {@code bytes} was read. */
    void noteMessage(long bytes) {
        if (bytes > largest) {
            largest = bytes;
        }
    }

    /**
     * Takes {@code bytes} for a stream that holds {@code own} already, once the budget has room for them
     * or nothing but its own is held (a stream never waits for itself); waits at most {@code nanos},
     * and no longer once {@code gone} (the stream ended): false when it took nothing.
     */
    boolean take(long bytes, long own, long nanos, BooleanSupplier gone) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        lock.lock();
        try {
            while (used > own && used + bytes > limit) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || gone.getAsBoolean()) {
                    return false;
                }
                waiting++;
                try {
                    room.awaitNanos(left);
                } finally {
                    waiting--;
                }
            }
            used += bytes;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Adds {@code bytes} without waiting (a read that held more than the room it took). */
    void force(long bytes) {
        lock.lock();
        try {
            used += bytes;
        } finally {
            lock.unlock();
        }
    }

    /** Gives back {@code bytes} and wakes the streams waiting for room. */
    void release(long bytes) {
        if (bytes <= 0) {
            return;
        }
        lock.lock();
        try {
            used = Math.max(0, used - bytes);
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes every waiting stream (one of them ended: it looks at its end). */
    void wake() {
        lock.lock();
        try {
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** How long a stream waits for room at a time before its loop looks at its end and heartbeats again. */
    static final long WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
}
