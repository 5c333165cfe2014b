package io.sluice.store.sqlite;

import io.sluice.store.TopicInfo;

/**
 * A topic as the store keeps it in memory: its row id, the last committed sequence in it, and the
 * position of its last message (the count of messages ever appended to it: the first has position
 * 1), from which counts are found without scanning.
 */
final class TopicRow {
    final long id;
    final String name;
    final long createdAt;
    /** Written by the writer thread after each commit; read by anyone. */
    volatile long lastSequence;
    /** Written by the writer thread after each commit, before {@link #lastSequence}; read by anyone. */
    volatile long lastPosition;

    TopicRow(long id, String name, long createdAt, long lastSequence, long lastPosition) {
        this.id = id;
        this.name = name;
        this.createdAt = createdAt;
        this.lastPosition = lastPosition;
        this.lastSequence = lastSequence;
    }

    TopicInfo info() {
        return new TopicInfo(name, createdAt);
    }
}
