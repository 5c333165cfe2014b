package io.sluice.telemetry;

import java.util.List;
import java.util.Map;

/**
 * What the web console shows, read in-process from the broker (the server implements it over the
 * store and delivery; telemetry never reads the database itself). Called from the metrics port's
 * HTTP threads, so implementations must be thread-safe and bound what they read.
 */
public interface ConsoleSource {

    /** A topic and its groups, as the store counts them now; {@code retention} describes its limits. */
    record Topic(String name, long messages, long firstSequence, long lastSequence, long lastTimestamp,
                 long createdAt, List<Group> groups, long bytes, long discarded, String retention) {
    }

    /**
     * A consumer group: its cursor, the messages after it, its last ack (0 = none), whether a stream
     * is open, its mode ("exclusive" or "shared"), the messages delivered and not settled, the
     * publish time of the oldest of them (0 = none), and the messages it dead-lettered and
     * redelivered since it was created (stored with the group).
     */
    record Group(String name, long cursor, long pending, long lastAckAt, boolean live, String mode, long inFlight,
                 long oldestUnackedAt, long deadLettered, long redelivered) {
    }

    /** One stored message, its payload cut to a preview. */
    record Peeked(long sequence, String id, long timestamp, Map<String, String> attributes, String payload,
                  int payloadBytes, boolean text) {
    }

    /** Every topic, ordered by name. */
    List<Topic> topics();

    /** The last {@code count} messages of the topic, oldest first; empty for an unknown or empty topic. */
    List<Peeked> peek(String topic, int count);

    /** Broker-wide figures: database and log sizes, writer queue depth, open streams. */
    Map<String, Long> broker();
}
