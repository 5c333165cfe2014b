package io.sluice.store;

import java.util.List;

/**
 * A topic's counts and ranges, with each consumer group's cursor. Sequences are 0 for an empty topic;
 * {@code firstSequence} is the oldest retained message. {@code totalBytes}: payload and attribute
 * bytes of the retained messages; {@code discarded}: messages removed by retention, ever.
 */
public record TopicStats(String topic, long totalMessages, long firstSequence, long lastSequence,
                         long firstTimestamp, long lastTimestamp, long createdAt, List<GroupStats> groups,
                         TopicConfig config, long totalBytes, long discarded) {

    /** Stats without retention figures (an unlimited topic with nothing discarded). */
    public TopicStats(String topic, long totalMessages, long firstSequence, long lastSequence,
                      long firstTimestamp, long lastTimestamp, long createdAt, List<GroupStats> groups) {
        this(topic, totalMessages, firstSequence, lastSequence, firstTimestamp, lastTimestamp, createdAt, groups,
                TopicConfig.unlimited(), 0, 0);
    }

    /**
     * A consumer group's cursor (the last acknowledged sequence; in a shared group, the last before
     * its oldest unsettled message) and the messages after it; its mode; how many messages are
     * delivered and not settled ({@code inFlight}); the publish time (Unix ms) of the oldest of them
     * (0 when none); and how many it dead-lettered and redelivered since it was created.
     */
    public record GroupStats(String group, long cursor, long pending, long lastAckAt, GroupMode mode, long inFlight,
                             long oldestUnackedAt, long deadLettered, long redelivered) {

        /** An exclusive group with nothing in flight. */
        public GroupStats(String group, long cursor, long pending, long lastAckAt) {
            this(group, cursor, pending, lastAckAt, GroupMode.EXCLUSIVE, 0, 0, 0, 0);
        }
    }
}
