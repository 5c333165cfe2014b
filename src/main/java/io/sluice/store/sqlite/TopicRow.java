package io.sluice.store.sqlite;

import io.sluice.store.TopicConfig;
import io.sluice.store.TopicInfo;

/**
 * A topic as the store keeps it in memory: its row id, the last committed sequence in it, the
 * position of its last message (the count of messages ever appended to it: the first has position
 * 1) and the bytes ever appended, from which counts are found without scanning; its oldest retained
 * message (position, sequence, timestamp, and the bytes appended before it) and its configuration,
 * for retention.
 *
 * <p>Threading: written by the writer thread only, after each commit (the last* fields before
 * {@link #lastSequence}); read by anyone. A reader may see one commit's fields half updated: stats
 * are figures, not promises.
 */
final class TopicRow {
    final long id;
    final String name;
    final long createdAt;
    volatile long lastSequence;
    volatile long lastPosition;
    /** Payload and attribute bytes of every message ever appended. */
    volatile long lastBytes;
    volatile long lastTimestamp;
    /** The oldest retained message; {@code firstPosition == lastPosition + 1} when the topic holds none. */
    volatile long firstPosition;
    volatile long firstSequence;
    volatile long firstTimestamp;
    /** Bytes appended before the oldest retained message: the topic holds {@code lastBytes - firstBytes}. */
    volatile long firstBytes;
    volatile TopicConfig config;
    /** Messages removed by retention, ever. */
    volatile long discarded;
    /** Writer thread only: the timestamp of the topic's oldest remembered dedup id (MAX_VALUE: none). */
    long oldestDedup = Long.MAX_VALUE;

    TopicRow(long id, String name, long createdAt, long lastSequence, long lastPosition) {
        this.id = id;
        this.name = name;
        this.createdAt = createdAt;
        this.lastPosition = lastPosition;
        this.lastSequence = lastSequence;
        this.firstPosition = lastPosition + 1;
        this.config = TopicConfig.unlimited();
    }

    TopicInfo info() {
        return new TopicInfo(name, createdAt);
    }

    /** Messages retained now. */
    long retained() {
        return Math.max(0, lastPosition - firstPosition + 1);
    }

    /** Bytes retained now. */
    long retainedBytes() {
        return retained() == 0 ? 0 : lastBytes - firstBytes;
    }
}
