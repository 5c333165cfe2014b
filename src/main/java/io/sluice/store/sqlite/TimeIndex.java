package io.sluice.store.sqlite;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Finds where a time falls in a topic. Timestamps never go back within a topic, so they are ordered
 * as the sequences are: a binary search over the topic's sequence range, each probe one seek in
 * the (topic, sequence) index, finds the first message at or after a time in about 40 probes
 * whatever the topic holds; no index on time is kept (it would cost every insert).
 *
 * <p>Threading: owns one prepared statement of one connection; used by that connection's user only.
 */
final class TimeIndex implements AutoCloseable {
    private final PreparedStatement atOrAfter;

    TimeIndex(Connection connection) throws SQLException {
        atOrAfter = connection.prepareStatement(
                "SELECT seq, ts FROM messages WHERE topic_id = ? AND seq >= ? ORDER BY seq LIMIT 1");
    }

    /**
     * The cursor just before the first message of the topic stamped at or after {@code millis}
     * (sequences {@code from}..{@code last} searched): {@code last} when there is none.
     */
    long cursorAt(long topicId, long from, long last, long millis) throws SQLException {
        long lo = Math.max(1, from);
        long hi = last + 1;   // [lo, hi) may hold the answer
        long found = -1;
        while (lo < hi) {
            long mid = lo + (hi - lo) / 2;
            atOrAfter.setLong(1, topicId);
            atOrAfter.setLong(2, mid);
            long seq;
            long ts;
            try (ResultSet rs = atOrAfter.executeQuery()) {
                if (!rs.next()) {
                    hi = mid;
                    continue;
                }
                seq = rs.getLong(1);
                ts = rs.getLong(2);
            }
            if (ts >= millis) {
                found = seq;
                hi = mid;
            } else {
                lo = seq + 1;
            }
        }
        return found < 0 ? last : found - 1;
    }

    @Override
    public void close() throws SQLException {
        atOrAfter.close();
    }
}
