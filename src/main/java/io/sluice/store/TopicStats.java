package io.sluice.store;

import java.util.List;

/** A topic's counts and ranges, with each consumer group's cursor. Sequences are 0 for an empty topic. */
public record TopicStats(String topic, long totalMessages, long firstSequence, long lastSequence,
                         long firstTimestamp, long lastTimestamp, long createdAt, List<GroupStats> groups) {

    /** A consumer group's cursor (the last acknowledged sequence) and the messages after it. */
    public record GroupStats(String group, long cursor, long pending, long lastAckAt) {
    }
}
