package io.sluice.client;

import java.util.List;

/**
 * A topic's figures: its message count, sequence range and timestamps (0 when the topic is empty),
 * and each consumer group's cursor (the last acknowledged sequence) and pending count (messages
 * after the cursor: the group's lag).
 */
public record TopicStats(String topic, long totalMessages, long firstSequence, long lastSequence,
                         long firstMessageTimestamp, long lastMessageTimestamp, long createdAt,
                         List<GroupStats> groups) {

    public TopicStats {
        groups = List.copyOf(groups);
    }

    /** One consumer group of a topic; {@code lastAckTimestamp} is 0 before the first ack. */
    public record GroupStats(String group, long cursor, long pending, long lastAckTimestamp) {
    }
}
