package io.sluice.store;

/** A topic as the store keeps it in memory: its row id and the last committed sequence in it. */
final class TopicRow {
    final long id;
    final String name;
    final long createdAt;
    /** Written by the writer thread after each commit; read by anyone. */
    volatile long lastSequence;
    /** The topic's message count up to a sequence, once a stats call has counted it; null before. */
    volatile Count count;

    /** {@code messages} of the topic have a sequence of at most {@code upTo}. */
    record Count(long messages, long upTo) {
    }

    TopicRow(long id, String name, long createdAt, long lastSequence) {
        this.id = id;
        this.name = name;
        this.createdAt = createdAt;
        this.lastSequence = lastSequence;
    }

    TopicInfo info() {
        return new TopicInfo(name, createdAt);
    }
}
