package io.sluice.store.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * Where an exclusive group's cursor goes when an ack moves it: past the run of messages right after
 * the acknowledged one that were settled without an ack (dead-lettered or terminated, a row marked
 * dead in {@code group_deliveries}). Such a message no longer blocks the ones after it once
 * everything before it is acknowledged, and the ack that acknowledges it is the last chance to pass
 * it: nothing else moves the cursor. Three indexed lookups, the last two only when the group has a
 * settled message after the ack. Writer thread only, inside the transaction that writes the ack (on
 * PostgreSQL with the group's row locked by it, so a Term committed meanwhile through another broker
 * is seen). Both backends' schemas have these tables; they differ only in how a dead row is written.
 */
public final class SettledRuns implements AutoCloseable {
    private final PreparedStatement firstSettled;
    private final PreparedStatement firstUnsettled;
    private final PreparedStatement lastSettledBefore;

    /** {@code dead}: the backend's condition on a {@code group_deliveries} row settled without an ack. */
    public SettledRuns(Connection c, String dead) throws SQLException {
        firstSettled = c.prepareStatement(
                "SELECT min(seq) FROM group_deliveries WHERE topic_id = ? AND grp = ? AND " + dead + " AND seq > ?");
        firstUnsettled = c.prepareStatement("""
                SELECT m.seq FROM messages m WHERE m.topic_id = ? AND m.seq > ? AND NOT EXISTS (
                    SELECT 1 FROM group_deliveries d
                    WHERE d.topic_id = m.topic_id AND d.grp = ? AND d.seq = m.seq AND d.%s)
                ORDER BY m.seq LIMIT 1""".formatted(dead));
        lastSettledBefore = c.prepareStatement("""
                SELECT max(seq) FROM group_deliveries
                WHERE topic_id = ? AND grp = ? AND %s AND seq > ? AND seq < ?""".formatted(dead));
    }

    /**
     * The cursor an ack to {@code acked} leaves: the last of the settled messages that follow it with no
     * unsettled message of the topic in between, or {@code acked} when the next message is unsettled.
     */
    public long cursorAfter(long topicId, String group, long acked) throws SQLException {
        firstSettled.setLong(1, topicId);
        firstSettled.setString(2, group);
        firstSettled.setLong(3, acked);
        if (single(firstSettled) < 0) {
            return acked;   // the common case: nothing settled after it
        }
        firstUnsettled.setLong(1, topicId);
        firstUnsettled.setLong(2, acked);
        firstUnsettled.setString(3, group);
        long blocking = single(firstUnsettled);
        lastSettledBefore.setLong(1, topicId);
        lastSettledBefore.setString(2, group);
        lastSettledBefore.setLong(3, acked);
        lastSettledBefore.setLong(4, blocking < 0 ? Long.MAX_VALUE : blocking);
        long last = single(lastSettledBefore);
        return last < 0 ? acked : last;
    }

    /** The query's one value, or -1 when it answers no row or NULL. */
    private static long single(PreparedStatement st) throws SQLException {
        try (ResultSet rs = st.executeQuery()) {
            if (!rs.next()) {
                return -1;
            }
            long v = rs.getLong(1);
            return rs.wasNull() ? -1 : v;
        }
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(firstSettled, firstUnsettled, lastSettledBefore)) {
            st.close();
        }
    }
}
