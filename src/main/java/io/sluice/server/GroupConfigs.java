package io.sluice.server;

import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.SubscriptionMode;
import io.sluice.server.security.Access;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import java.util.ArrayList;

/**
 * The one place a consumer group's configuration crosses the wire: checked and turned into the
 * store's {@link GroupConfig}, and back. Naming a dead-letter topic needs the publish grant on it.
 */
final class GroupConfigs {
    private GroupConfigs() {
    }

    /**
     * The configuration a request carries for {@code topic}, checked: INVALID_ARGUMENT for
     * max_deliveries without a dead-letter topic, a bad or self-referencing dead-letter topic, max
     * in flight or backoff beyond their limits; PERMISSION_DENIED without the publish grant on the
     * dead-letter topic.
     */
    static GroupConfig fromWire(String topic, String group, ConsumerGroupConfig c) {
        String dlq = c.getDeadLetterTopic();
        if (c.getMaxDeliveries() > 0 && dlq.isEmpty()) {
            throw new SluiceException.InvalidArgument("max_deliveries " + Integer.toUnsignedString(c.getMaxDeliveries())
                    + " needs a dead_letter_topic: messages that exhaust their deliveries are moved there, never "
                    + "dropped silently");
        }
        if (!dlq.isEmpty()) {
            try {
                Names.topic(dlq);
            } catch (SluiceException.InvalidArgument e) {
                throw new SluiceException.InvalidArgument("dead_letter_topic: " + e.getMessage());
            }
            if (dlq.equals(topic)) {
                throw new SluiceException.InvalidArgument("dead_letter_topic " + dlq
                        + " is the group's own topic; name another topic");
            }
            Access.requireDeadLetter(topic, group, dlq);
        }
        long maxInFlight = Integer.toUnsignedLong(c.getMaxInFlight());
        if (maxInFlight > GroupConfig.MAX_IN_FLIGHT_LIMIT) {
            throw new SluiceException.InvalidArgument("max_in_flight " + maxInFlight + " is above the limit of "
                    + GroupConfig.MAX_IN_FLIGHT_LIMIT);
        }
        if (c.getBackoffMsCount() > GroupConfig.MAX_BACKOFF_STEPS) {
            throw new SluiceException.InvalidArgument("backoff_ms has " + c.getBackoffMsCount()
                    + " entries; the limit is " + GroupConfig.MAX_BACKOFF_STEPS + " (the last one repeats)");
        }
        var backoff = new ArrayList<Long>(c.getBackoffMsCount());
        for (int ms : c.getBackoffMsList()) {
            backoff.add(Integer.toUnsignedLong(ms));
        }
        return new GroupConfig(Integer.toUnsignedLong(c.getAckWaitMs()), Integer.toUnsignedLong(c.getMaxDeliveries()),
                dlq, maxInFlight, backoff);
    }

    static ConsumerGroupConfig toWire(GroupConfig c) {
        var b = ConsumerGroupConfig.newBuilder()
                .setAckWaitMs((int) c.ackWaitMs())
                .setMaxDeliveries((int) c.maxDeliveries())
                .setDeadLetterTopic(c.deadLetterTopic())
                .setMaxInFlight((int) c.maxInFlight());
        c.backoffMs().forEach(ms -> b.addBackoffMs(ms.intValue()));
        return b.build();
    }

    static SubscriptionMode toWire(GroupMode mode) {
        return mode == GroupMode.SHARED ? SubscriptionMode.SHARED : SubscriptionMode.CONSUMER_GROUP;
    }
}
