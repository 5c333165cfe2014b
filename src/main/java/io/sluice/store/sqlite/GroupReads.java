package io.sluice.store.sqlite;

import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a consumer group back into the writer's memory ({@link GroupTable.Group}): its row, and for a
 * shared group its unsettled messages, from the span kept in its row ({@link UnsettledSpan}) and the
 * index range of its rows in {@code group_deliveries}. A lease granted by an earlier run of the store
 * is released: its stream is gone, and its message comes back after its backoff. Writer thread only.
 */
final class GroupReads implements AutoCloseable {
    private final long epoch;
    private final PreparedStatement selectGroup;
    private final PreparedStatement selectEntries;

    GroupReads(Connection c, long epoch) throws SQLException {
        this.epoch = epoch;
        selectGroup = c.prepareStatement("""
                SELECT mode, ack_wait_ms, max_deliveries, dead_letter_topic, max_in_flight, backoff_ms,
                       cursor_seq, delivered_seq, dead_lettered, redelivered, last_ack_at, unsettled
                FROM consumer_groups WHERE topic_id = ? AND name = ?""");
        selectEntries = c.prepareStatement(
                "SELECT seq, deliveries, holder, epoch, due_at FROM group_deliveries WHERE topic_id = ? AND grp = ?");
    }

    /** The group as stored, or null when it does not exist. */
    GroupTable.Group group(TopicRow topic, String name, long now) throws SQLException {
        GroupTable.Group g;
        selectGroup.setLong(1, topic.id);
        selectGroup.setString(2, name);
        try (ResultSet rs = selectGroup.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            g = new GroupTable.Group(topic, name);
            g.mode = rs.getInt(1) == 1 ? GroupMode.SHARED : GroupMode.EXCLUSIVE;
            g.config = new GroupConfig(rs.getLong(2), rs.getLong(3), rs.getString(4), rs.getLong(5),
                    parseBackoff(rs.getString(6)));
            g.cursor = rs.getLong(7);
            g.delivered = Math.max(rs.getLong(8), g.cursor);
            g.deadLettered = rs.getLong(9);
            g.redelivered = rs.getLong(10);
            g.lastAckAt = rs.getLong(11);
            if (g.shared()) {
                byte[] span = rs.getBytes(12);
                if (span != null) {
                    spanEntries(g, span, now);
                }
            }
        }
        if (g.shared()) {
            rowEntries(g, now);
        }
        return g;
    }

    /**
     * A shared group's unsettled messages from its row: each delivered once (a row, read next, says
     * otherwise), its lease granted by an earlier run and so released, back after its backoff.
     */
    private static void spanEntries(GroupTable.Group g, byte[] span, long now) throws SQLException {
        long due = now + g.config.backoffAfter(1);
        try {
            UnsettledSpan.decode(g.cursor, span, seq -> g.entries.put(seq, new GroupTable.Entry(1, null, 0, due)));
        } catch (IllegalArgumentException e) {
            throw new SQLException("consumer group " + g.name + " of topic " + g.topic.name
                    + ": its stored unsettled messages cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * A shared group's rows: messages delivered more than once (every unsettled message, in a database
     * written before the span was kept).
     */
    private void rowEntries(GroupTable.Group g, long now) throws SQLException {
        selectEntries.setLong(1, g.topic.id);
        selectEntries.setString(2, g.name);
        try (ResultSet rs = selectEntries.executeQuery()) {
            while (rs.next()) {
                var e = new GroupTable.Entry(rs.getInt(2), rs.getString(3), rs.getLong(4), rs.getLong(5));
                e.stored = true;
                if (e.holder != null && e.epoch != epoch) {
                    e.holder = null;
                    e.dueAt = Math.min(e.dueAt, now + g.config.backoffAfter(e.deliveries));
                }
                g.entries.put(rs.getLong(1), e);
            }
        }
    }

    private static List<Long> parseBackoff(String stored) {
        var out = new ArrayList<Long>();
        if (stored != null && !stored.isEmpty()) {
            for (String part : stored.split(",")) {
                out.add(Long.parseLong(part));
            }
        }
        return out;
    }

    @Override
    public void close() throws SQLException {
        selectGroup.close();
        selectEntries.close();
    }
}
