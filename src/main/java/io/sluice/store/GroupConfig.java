package io.sluice.store;

import java.util.List;

/**
 * A consumer group's configuration, as stored: zero (or an empty list) means the default, and the
 * effective values are answered by the accessors named {@code effective...}.
 *
 * @param ackWaitMs SHARED: how long a delivery is leased before it returns (0 = {@link #DEFAULT_ACK_WAIT_MS})
 * @param maxDeliveries deliveries after which an unsettled message is dead-lettered (0 = unlimited)
 * @param deadLetterTopic where dead letters go; empty = none (then {@code maxDeliveries} must be 0)
 * @param maxInFlight SHARED: delivered, unsettled messages of the group at most (0 = {@link #DEFAULT_MAX_IN_FLIGHT})
 * @param backoffMs the delay before the n-th redelivery, the last repeating (empty = 1 s doubling to 5 min)
 */
public record GroupConfig(long ackWaitMs, long maxDeliveries, String deadLetterTopic, long maxInFlight,
                          List<Long> backoffMs) {
    public static final long DEFAULT_ACK_WAIT_MS = 30_000;
    public static final long DEFAULT_MAX_IN_FLIGHT = 1_000;
    /** The most messages a shared group may hold in flight: each is a stored row and an entry in memory. */
    public static final long MAX_IN_FLIGHT_LIMIT = 100_000;
    public static final int MAX_BACKOFF_STEPS = 100;
    public static final long FIRST_BACKOFF_MS = 1_000;
    public static final long LAST_BACKOFF_MS = 300_000;

    public static final GroupConfig DEFAULTS = new GroupConfig(0, 0, "", 0, List.of());

    public GroupConfig {
        deadLetterTopic = deadLetterTopic == null ? "" : deadLetterTopic;
        backoffMs = List.copyOf(backoffMs);
    }

    public long effectiveAckWaitMs() {
        return ackWaitMs == 0 ? DEFAULT_ACK_WAIT_MS : ackWaitMs;
    }

    public long effectiveMaxInFlight() {
        return maxInFlight == 0 ? DEFAULT_MAX_IN_FLIGHT : maxInFlight;
    }

    public boolean hasDeadLetterTopic() {
        return !deadLetterTopic.isEmpty();
    }

    /**
     * The delay before a message delivered {@code deliveries} times is delivered again: the
     * {@code deliveries}-th entry of the list (the last repeats), or by default 1 s doubling up to 5 min.
     */
    public long backoffAfter(long deliveries) {
        long n = Math.max(1, deliveries);
        if (!backoffMs.isEmpty()) {
            return backoffMs.get((int) Math.min(n, backoffMs.size()) - 1);
        }
        long shift = Math.min(n - 1, 20);
        return Math.min(LAST_BACKOFF_MS, FIRST_BACKOFF_MS << shift);
    }

    /** True when a message delivered {@code deliveries} times and not settled goes to the dead letters. */
    public boolean exhausted(long deliveries) {
        return maxDeliveries > 0 && deliveries >= maxDeliveries;
    }
}
