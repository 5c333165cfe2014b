package io.sluice.client;

import io.sluice.proto.InitialPosition;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.time.Duration;
import java.util.Objects;

/**
 * What a {@link Subscription} asks for. Start from {@link #of(String)} and change what differs:
 * <pre>{@code
 * SubscriptionOptions.of("orders").withGroup("billing").from(Position.EARLIEST).withCreditWindow(32)
 * }</pre>
 *
 * @param topic          the topic to read
 * @param group          the consumer group ({@code default} unless set); ignored when browsing
 * @param position       where a group without a cursor starts; a group with a cursor resumes after it
 * @param offset         the first sequence for {@link Position#OFFSET}
 * @param browse         read without a group: never moves a cursor, never takes a group over
 * @param creditWindow   most messages delivered but not yet handed to the application (1-1,000,000)
 * @param consumerId     how this consumer names itself to the broker (may be empty)
 * @param initialBackoff the first pause before reconnecting; it doubles per failed attempt, with jitter
 * @param maxBackoff     the longest pause between reconnect attempts
 * @param reconnectFor   how long the subscription keeps trying without a working stream before it fails
 *                       with {@link SluiceClientException.Unavailable}
 * @param maxMessages    most messages the broker is asked for in all (0: no limit), so a consumer that
 *                       takes only so many leaves the rest undelivered; after that many, receive waits
 */
public record SubscriptionOptions(String topic, String group, Position position, long offset, boolean browse,
                                  int creditWindow, String consumerId, Duration initialBackoff,
                                  Duration maxBackoff, Duration reconnectFor, long maxMessages) {
    /**
     * Deliveries the broker may send in one message ({@code max_batch} of the init): fewer gRPC
     * messages to read and parse; each still spends one credit. A broker that predates batches sends
     * them one by one, which the stream reads just as well.
     */
    static final int MAX_BATCH = 256;

    /** Where a consumer group without a cursor (or a browse) starts. */
    public enum Position {
        /** After the newest message at the moment the stream opens. */
        LATEST,
        /** At the oldest stored message. */
        EARLIEST,
        /** At the sequence {@link SubscriptionOptions#offset()}. */
        OFFSET,
        /** At the first message stamped at or after {@link SubscriptionOptions#offset()}, in Unix ms. */
        TIMESTAMP
    }

    public static final String DEFAULT_GROUP = "default";
    public static final int DEFAULT_CREDIT_WINDOW = 64;
    public static final int MAX_CREDIT_WINDOW = 1_000_000;

    public SubscriptionOptions {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(position, "position");
        group = group == null || group.isEmpty() ? DEFAULT_GROUP : group;
        consumerId = consumerId == null ? "" : consumerId;
        if (creditWindow < 1 || creditWindow > MAX_CREDIT_WINDOW) {
            throw new IllegalArgumentException("the credit window must be 1-" + MAX_CREDIT_WINDOW + ", not "
                    + creditWindow);
        }
        if (offset < 0) {
            throw new IllegalArgumentException("the offset must not be negative: " + offset);
        }
        if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("backoff must be positive with max >= initial, not "
                    + initialBackoff + " .. " + maxBackoff);
        }
        if (maxMessages < 0) {
            throw new IllegalArgumentException("maxMessages must not be negative (0: no limit): " + maxMessages);
        }
        if (reconnectFor.isNegative()) {
            throw new IllegalArgumentException("reconnectFor must not be negative: " + reconnectFor);
        }
    }

    /**
     * The defaults for {@code topic}: group {@code default}, starting at LATEST, a window of 64,
     * reconnect pauses from 100 ms doubling up to 5 s, giving up after 2 minutes without a stream,
     * no limit on the number of messages.
     */
    public static SubscriptionOptions of(String topic) {
        return new SubscriptionOptions(topic, DEFAULT_GROUP, Position.LATEST, 0, false, DEFAULT_CREDIT_WINDOW, "",
                Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofMinutes(2), 0);
    }

    public SubscriptionOptions withGroup(String newGroup) {
        return new SubscriptionOptions(topic, newGroup, position, offset, browse, creditWindow, consumerId,
                initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    /** Starts a new group at EARLIEST or LATEST. */
    public SubscriptionOptions from(Position newPosition) {
        if (newPosition == Position.OFFSET || newPosition == Position.TIMESTAMP) {
            throw new IllegalArgumentException("use fromOffset(sequence) for OFFSET, fromTime(instant) for TIMESTAMP");
        }
        return new SubscriptionOptions(topic, group, newPosition, 0, browse, creditWindow, consumerId,
                initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    /** Starts a new group at the first message stamped at or after {@code time} (replay by time). */
    public SubscriptionOptions fromTime(java.time.Instant time) {
        return new SubscriptionOptions(topic, group, Position.TIMESTAMP, time.toEpochMilli(), browse, creditWindow,
                consumerId, initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    /** Starts a new group at the message with sequence {@code sequence} (or the first one after it). */
    public SubscriptionOptions fromOffset(long sequence) {
        return new SubscriptionOptions(topic, group, Position.OFFSET, sequence, browse, creditWindow, consumerId,
                initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    /** Reads without a consumer group: no cursor moves, no acks. */
    public SubscriptionOptions browsing() {
        return new SubscriptionOptions(topic, group, position, offset, true, creditWindow, consumerId,
                initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    public SubscriptionOptions withCreditWindow(int window) {
        return new SubscriptionOptions(topic, group, position, offset, browse, window, consumerId,
                initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    public SubscriptionOptions withConsumerId(String id) {
        return new SubscriptionOptions(topic, group, position, offset, browse, creditWindow, id,
                initialBackoff, maxBackoff, reconnectFor, maxMessages);
    }

    public SubscriptionOptions withBackoff(Duration initial, Duration max) {
        return new SubscriptionOptions(topic, group, position, offset, browse, creditWindow, consumerId,
                initial, max, reconnectFor, maxMessages);
    }

    public SubscriptionOptions withReconnectFor(Duration limit) {
        return new SubscriptionOptions(topic, group, position, offset, browse, creditWindow, consumerId,
                initialBackoff, maxBackoff, limit, maxMessages);
    }

    /** Asks the broker for at most {@code limit} messages in all (0: no limit). */
    public SubscriptionOptions withMaxMessages(long limit) {
        return new SubscriptionOptions(topic, group, position, offset, browse, creditWindow, consumerId,
                initialBackoff, maxBackoff, reconnectFor, limit);
    }

    /**
     * The init of a new stream with these options; {@code resumeAt} is the sequence after the last
     * message handed out (a browse has no cursor: a new stream of one goes on from there).
     */
    SubscriptionInit init(long resumeAt) {
        var init = SubscriptionInit.newBuilder().setTopic(topic()).setConsumerId(consumerId())
                .setMaxBatch(MAX_BATCH);
        if (browse() && resumeAt > 0) {
            return init.setMode(SubscriptionMode.BROWSE).setInitialPosition(InitialPosition.OFFSET)
                    .setOffset(resumeAt).build();
        }
        init.setMode(browse() ? SubscriptionMode.BROWSE : SubscriptionMode.CONSUMER_GROUP);
        if (!browse()) {
            init.setConsumerGroup(group());
        }
        return switch (position()) {
            case LATEST -> init.setInitialPosition(InitialPosition.LATEST).build();
            case EARLIEST -> init.setInitialPosition(InitialPosition.EARLIEST).build();
            case OFFSET -> init.setInitialPosition(InitialPosition.OFFSET).setOffset(offset()).build();
            case TIMESTAMP -> init.setInitialPosition(InitialPosition.TIMESTAMP).setStartTimestampMs(offset()).build();
        };
    }
}
