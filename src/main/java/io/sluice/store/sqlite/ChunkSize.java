package io.sluice.store.sqlite;

/**
 * How many rows a removal chunk takes (a deleted topic's purge, retention's background work): sized
 * so that one chunk holds the writer, and the publishes queued behind it, for about {@link
 * #TARGET_NANOS}. Starts at 1,000, then follows the measured time of full chunks, moving halfway.
 * Writer thread only.
 */
final class ChunkSize {
    /** How long one chunk should hold the writer. */
    static final long TARGET_NANOS = 2_000_000;
    static final int MIN = 50;
    static final int MAX = 20_000;

    private int rows = 1_000;

    /** Rows the next chunk removes. */
    int rows() {
        return rows;
    }

    /** A full chunk took {@code nanos}: the next is sized to take about {@link #TARGET_NANOS}, moving halfway. */
    void took(long nanos) {
        double wanted = (double) rows * TARGET_NANOS / Math.max(nanos, 1_000);
        long next = Math.round((rows + wanted) / 2);
        rows = (int) Math.max(MIN, Math.min(MAX, next));
    }
}
