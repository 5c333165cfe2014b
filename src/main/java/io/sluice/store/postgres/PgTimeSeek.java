package io.sluice.store.postgres;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Finds a topic's first message stamped at or after a time, without an index on time (schema version
 * 7 dropped it: it cost every insert a third of its index work).
 *
 * <p>Within a topic a message's {@code ts} never decreases as its {@code seq} grows: every write
 * transaction stamps all its messages with the counter row's clock, which only grows
 * ({@code last_ts = greatest(last_ts, now)}), and the counter row orders the transactions of every
 * broker. So a binary search over {@code seq}, each step one seek in the primary key
 * {@code (topic_id, seq)}, finds the message: about log2(last sequence) seeks (at most 63), all in
 * one recursive statement and one round trip.
 *
 * <p>Each step keeps {@code lo} (every message at or below it is older than the time), {@code hi}
 * (the answer, if any, is below it) and the best message found. It looks at the first message at or
 * after the middle: older than the time, the search goes on above it; at or after the time, it is the
 * best so far and the search goes on below the middle; none there, below the middle.
 */
final class PgTimeSeek {
    /** Parameters: the topic's last sequence, the time three times, the topic's id. */
    static final String FIRST_AT_OR_AFTER = """
            WITH RECURSIVE b(lo, hi, found) AS (
                SELECT 0::bigint, ?::bigint + 1, NULL::bigint
              UNION ALL
                SELECT CASE WHEN r.ts < ? THEN r.seq ELSE b.lo END,
                       CASE WHEN r.ts < ? THEN b.hi ELSE b.lo + (b.hi - b.lo) / 2 END,
                       CASE WHEN r.ts >= ? THEN r.seq ELSE b.found END
                FROM b LEFT JOIN LATERAL (SELECT m.seq, m.ts FROM messages m
                                          WHERE m.topic_id = ? AND m.seq >= b.lo + (b.hi - b.lo) / 2 AND m.seq < b.hi
                                          ORDER BY m.seq LIMIT 1) r ON true
                WHERE b.lo + 1 < b.hi)
            SELECT found FROM b WHERE b.lo + 1 >= b.hi""";

    private PgTimeSeek() {
    }

    /**
     * Runs {@code st} (prepared from {@link #FIRST_AT_OR_AFTER}): the sequence of topic {@code topicId}'s
     * first message stamped at or after {@code millis} among those up to {@code lastSeq}, or -1 when none.
     */
    static long firstAtOrAfter(PreparedStatement st, long topicId, long lastSeq, long millis) throws SQLException {
        st.setLong(1, lastSeq);
        st.setLong(2, millis);
        st.setLong(3, millis);
        st.setLong(4, millis);
        st.setLong(5, topicId);
        try (ResultSet rs = st.executeQuery()) {
            if (!rs.next()) {
                return -1;
            }
            long found = rs.getLong(1);
            return rs.wasNull() ? -1 : found;
        }
    }
}
