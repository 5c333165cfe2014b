package io.sluice.delivery;

import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The messages due again on one stream after a Nack, in the order they are due. A message is
 * pending at most once (scheduling it again replaces its time) and at most {@code capacity} are
 * pending, so a client that nacks without end holds a bounded set. Not thread-safe: guarded by its
 * subscription's lock.
 */
final class Redeliveries {
    /** A message due again; ordered by when, then by sequence. */
    private record Due(long sequence, long nanos) implements Comparable<Due> {
        @Override
        public int compareTo(Due o) {
            int byTime = Long.compare(nanos - o.nanos, 0);
            return byTime != 0 ? byTime : Long.compare(sequence, o.sequence);
        }
    }

    private final int capacity;
    private final TreeSet<Due> byTime = new TreeSet<>();
    private final TreeMap<Long, Due> bySequence = new TreeMap<>();

    Redeliveries(int capacity) {
        this.capacity = capacity;
    }

    /** Schedules the message for {@code dueNanos}; false, changing nothing, when it is new and the set is full. */
    boolean schedule(long sequence, long dueNanos) {
        if (!bySequence.containsKey(sequence) && bySequence.size() >= capacity) {
            return false;
        }
        var due = new Due(sequence, dueNanos);
        Due before = bySequence.put(sequence, due);
        if (before != null) {
            byTime.remove(before);
        }
        byTime.add(due);
        return true;
    }

    /** Takes the message due first when it is due at {@code nowNanos}; its sequence, or -1 when none is due. */
    long takeDue(long nowNanos) {
        if (byTime.isEmpty() || byTime.first().nanos - nowNanos > 0) {
            return -1;
        }
        Due first = byTime.pollFirst();
        bySequence.remove(first.sequence);
        return first.sequence;
    }

    /** Nanoseconds from {@code nowNanos} until the first is due (may be negative); Long.MAX_VALUE when none is pending. */
    long nanosUntilNext(long nowNanos) {
        return byTime.isEmpty() ? Long.MAX_VALUE : byTime.first().nanos - nowNanos;
    }

    /** Forgets the message when it is pending. */
    void remove(long sequence) {
        Due due = bySequence.remove(sequence);
        if (due != null) {
            byTime.remove(due);
        }
    }

    /** Forgets every pending message at or below {@code sequence} (a cumulative ack covers them). */
    void removeUpTo(long sequence) {
        var covered = bySequence.headMap(sequence, true);
        covered.values().forEach(byTime::remove);
        covered.clear();
    }

    boolean isEmpty() {
        return byTime.isEmpty();
    }

    void clear() {
        byTime.clear();
        bySequence.clear();
    }

    int capacity() {
        return capacity;
    }
}
