package io.sluice.delivery;

import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the broker remembers of a consumer group between its streams: the highest sequence ever
 * delivered, and how often each unacknowledged message was delivered, so a redelivery after a
 * reconnect or a nack carries {@code delivery_count} above 1. Counts are kept for at most
 * {@link #MAX_COUNTS} messages; beyond that a redelivered message reports 2. Thread-safe.
 */
final class GroupState {
    static final int MAX_COUNTS = 65_536;

    private final ReentrantLock lock = new ReentrantLock();
    private long delivered;                                    // guarded by lock
    private long cursor;                                       // guarded by lock
    private final TreeMap<Long, Integer> counts = new TreeMap<>();   // guarded by lock; only counts above 1

    /** Takes the persisted position of the group (the larger of what is known wins). */
    void load(long persistedCursor, long persistedDelivered) {
        lock.lock();
        try {
            cursor = Math.max(cursor, persistedCursor);
            delivered = Math.max(delivered, persistedDelivered);
            counts.headMap(cursor, true).clear();
        } finally {
            lock.unlock();
        }
    }

    /** Records a delivery of {@code sequence}; answers its delivery count (1 for the first). */
    int deliver(long sequence) {
        lock.lock();
        try {
            if (sequence > delivered) {
                delivered = sequence;
                return 1;
            }
            int count = counts.getOrDefault(sequence, 1) + 1;
            counts.put(sequence, count);
            if (counts.size() > MAX_COUNTS) {
                counts.pollFirstEntry();
            }
            return count;
        } finally {
            lock.unlock();
        }
    }

    long delivered() {
        lock.lock();
        try {
            return delivered;
        } finally {
            lock.unlock();
        }
    }

    /** The group acknowledged everything up to {@code sequence}. */
    void acked(long sequence) {
        lock.lock();
        try {
            if (sequence > cursor) {
                cursor = sequence;
                counts.headMap(sequence, true).clear();
            }
        } finally {
            lock.unlock();
        }
    }

    /** An operator set the cursor: what was delivered after it is forgotten. */
    void reset(long newCursor) {
        lock.lock();
        try {
            cursor = newCursor;
            delivered = newCursor;
            counts.clear();
        } finally {
            lock.unlock();
        }
    }
}
