package io.sluice.client;

import io.sluice.proto.ConsumerGroupConfig;
import java.time.Duration;
import java.util.List;

/**
 * A consumer group's configuration (SPEC §7), for {@link SluiceClient#configureGroup}. Zero (or an
 * empty list) means the broker's default: an ack wait of 30 s, unlimited deliveries, no dead-letter
 * topic, 1,000 messages in flight, a backoff of 1 s doubling to 5 min.
 * <pre>{@code
 * GroupSettings.defaults().withAckWait(Duration.ofSeconds(10)).withDeadLetters("orders.dlq", 5)
 * }</pre>
 *
 * @param ackWait         shared groups: how long a delivery is leased before it comes back
 * @param maxDeliveries   deliveries after which an unsettled message goes to the dead-letter topic
 * @param deadLetterTopic where dead letters go (required with {@code maxDeliveries})
 * @param maxInFlight     shared groups: delivered, unsettled messages of the group at most
 * @param backoff         the delay before the n-th redelivery; the last repeats
 */
public record GroupSettings(Duration ackWait, int maxDeliveries, String deadLetterTopic, int maxInFlight,
                            List<Duration> backoff) {

    /** The longest ack wait or backoff delay the protocol carries: 2^32 - 1 ms, about 49.7 days. */
    public static final Duration MAX_DURATION = Duration.ofMillis(0xFFFF_FFFFL);

    /** @throws IllegalArgumentException for a duration that is negative or over {@link #MAX_DURATION} */
    public GroupSettings {
        deadLetterTopic = deadLetterTopic == null ? "" : deadLetterTopic;
        backoff = List.copyOf(backoff);
        check("ack wait", ackWait);
        backoff.forEach(d -> check("backoff", d));
    }

    private static void check(String what, Duration d) {
        if (d.isNegative() || d.compareTo(MAX_DURATION) > 0) {
            throw new IllegalArgumentException("the " + what + " must be 0 to " + MAX_DURATION.toMillis()
                    + " ms (about 49.7 days), not " + d.toMillis() + " ms");
        }
    }

    public static GroupSettings defaults() {
        return new GroupSettings(Duration.ZERO, 0, "", 0, List.of());
    }

    public GroupSettings withAckWait(Duration wait) {
        return new GroupSettings(wait, maxDeliveries, deadLetterTopic, maxInFlight, backoff);
    }

    public GroupSettings withDeadLetters(String topic, int afterDeliveries) {
        return new GroupSettings(ackWait, afterDeliveries, topic, maxInFlight, backoff);
    }

    public GroupSettings withMaxInFlight(int messages) {
        return new GroupSettings(ackWait, maxDeliveries, deadLetterTopic, messages, backoff);
    }

    public GroupSettings withBackoff(List<Duration> delays) {
        return new GroupSettings(ackWait, maxDeliveries, deadLetterTopic, maxInFlight, delays);
    }

    ConsumerGroupConfig toWire() {
        var b = ConsumerGroupConfig.newBuilder()
                .setAckWaitMs((int) ackWait.toMillis())
                .setMaxDeliveries(maxDeliveries)
                .setDeadLetterTopic(deadLetterTopic)
                .setMaxInFlight(maxInFlight);
        backoff.forEach(d -> b.addBackoffMs((int) d.toMillis()));
        return b.build();
    }

    static GroupSettings fromWire(ConsumerGroupConfig c) {
        return new GroupSettings(Duration.ofMillis(Integer.toUnsignedLong(c.getAckWaitMs())), c.getMaxDeliveries(),
                c.getDeadLetterTopic(), c.getMaxInFlight(), c.getBackoffMsList().stream()
                        .map(ms -> Duration.ofMillis(Integer.toUnsignedLong(ms))).toList());
    }
}
