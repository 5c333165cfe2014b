package io.sluice.store;

import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/** One read-only connection with its prepared queries. Used by one thread at a time (see {@link ReadPool}). */
final class ReadConnection {
    private final Connection connection;
    private final PreparedStatement range;
    private final PreparedStatement bySequence;
    private final PreparedStatement bounds;
    private final PreparedStatement countBetween;
    private final PreparedStatement groups;

    ReadConnection(Connection connection) {
        this.connection = connection;
        try {
            range = connection.prepareStatement("""
                    SELECT seq, mid, ts, payload, attrs, crc FROM messages
                    WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT ?""");
            bySequence = connection.prepareStatement("SELECT topic_id, mid FROM messages WHERE seq = ?");
            // Each aggregate in its own subquery: SQLite answers a lone min or max from the index's
            // edge, but scans every row of the topic for both at once.
            bounds = connection.prepareStatement("""
                    SELECT (SELECT min(seq) FROM messages WHERE topic_id = ?1),
                           (SELECT max(seq) FROM messages WHERE topic_id = ?1)""");
            countBetween = connection.prepareStatement(
                    "SELECT count(*) FROM messages WHERE topic_id = ? AND seq > ? AND seq <= ?");
            groups = connection.prepareStatement("""
                    SELECT name, cursor_seq, last_ack_at FROM consumer_groups WHERE topic_id = ? ORDER BY name""");
        } catch (SQLException e) {
            throw StorageErrors.map(e, "preparing reads");
        }
    }

    /** Up to {@code limit} messages of the topic after {@code after}, in order, checksums verified. */
    List<StoredMessage> range(TopicRow topic, long after, int limit, long maxBytes) throws SQLException {
        long bytes = 0;
        range.setLong(1, topic.id);
        range.setLong(2, after);
        range.setInt(3, limit);
        var out = new ArrayList<StoredMessage>(Math.min(limit, 1024));
        try (ResultSet rs = range.executeQuery()) {
            while (bytes < maxBytes && rs.next()) {
                long seq = rs.getLong(1);
                byte[] payload = rs.getBytes(4);
                byte[] attrs = rs.getBytes(5);
                if (payload == null) {
                    payload = new byte[0];
                }
                if (attrs == null) {
                    attrs = new byte[0];
                }
                bytes += payload.length + attrs.length;
                if (WriteOp.checksum(payload, attrs) != rs.getLong(6)) {
                    throw damaged(topic, seq, "its checksum does not match its contents");
                }
                byte[] mid = rs.getBytes(2);
                if (mid == null || mid.length != 16) {
                    throw damaged(topic, seq, "its id is malformed");
                }
                try {
                    out.add(new StoredMessage(seq, MessageIds.fromBytes(mid), rs.getLong(3),
                            UnsafeByteOperations.unsafeWrap(payload), Attributes.decode(attrs)));
                } catch (IOException e) {
                    throw damaged(topic, seq, "its attributes cannot be decoded");
                }
            }
        }
        return out;
    }

    /** True when the message at {@code sequence} exists in the topic with exactly this id. */
    boolean holds(TopicRow topic, long sequence, byte[] id) throws SQLException {
        bySequence.setLong(1, sequence);
        try (ResultSet rs = bySequence.executeQuery()) {
            return rs.next() && rs.getLong(1) == topic.id && java.util.Arrays.equals(rs.getBytes(2), id);
        }
    }

    /**
     * The topic's counts. A topic loses messages only all at once (deleted, when its row goes too),
     * so the number of its messages up to a sequence never changes once that sequence is stored:
     * the count is kept on the topic's row and each call counts only what was added since (or, the
     * first time, everything). A group's pending messages are counted from whichever end of the
     * topic its cursor is nearer.
     */
    TopicStats stats(TopicRow topic) throws SQLException {
        long first;
        long last;
        bounds.setLong(1, topic.id);
        try (ResultSet rs = bounds.executeQuery()) {
            rs.next();
            first = rs.getLong(1);
            last = rs.getLong(2);
        }
        TopicRow.Count known = topic.count;
        long total = known != null && known.upTo() <= last
                ? known.messages() + countBetween(topic, known.upTo(), last)
                : countBetween(topic, 0, last);
        if (known == null || known.upTo() < last) {
            topic.count = new TopicRow.Count(total, last);   // a racing call stores the same figure for its own last
        }
        long firstTs = total == 0 ? 0 : timestampOf(first);
        long lastTs = total == 0 ? 0 : timestampOf(last);
        var groupStats = new ArrayList<TopicStats.GroupStats>();
        groups.setLong(1, topic.id);
        try (ResultSet rs = groups.executeQuery()) {
            while (rs.next()) {
                long cursor = rs.getLong(2);
                groupStats.add(new TopicStats.GroupStats(rs.getString(1), cursor, 0, rs.getLong(3)));
            }
        }
        for (int i = 0; i < groupStats.size(); i++) {
            var g = groupStats.get(i);
            long cursor = g.cursor();
            long pendingCount;
            if (total == 0 || cursor < first) {
                pendingCount = total;
            } else if (cursor >= last) {
                pendingCount = 0;
            } else if (cursor - first < last - cursor) {
                pendingCount = total - countBetween(topic, 0, cursor);
            } else {
                pendingCount = countBetween(topic, cursor, last);
            }
            groupStats.set(i, new TopicStats.GroupStats(g.group(), cursor, pendingCount, g.lastAckAt()));
        }
        return new TopicStats(topic.name, total, first, last, firstTs, lastTs, topic.createdAt, groupStats);
    }

    List<GroupCursor> groupCursors() throws SQLException {
        var out = new ArrayList<GroupCursor>();
        try (var st = connection.prepareStatement("""
                SELECT t.name, g.name, g.cursor_seq FROM consumer_groups g JOIN topics t ON t.id = g.topic_id
                ORDER BY t.name, g.name""");
             ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                out.add(new GroupCursor(rs.getString(1), rs.getString(2), rs.getLong(3)));
            }
        }
        return out;
    }

    /** The topic's messages with a sequence in (after, upTo]. */
    private long countBetween(TopicRow topic, long after, long upTo) throws SQLException {
        countBetween.setLong(1, topic.id);
        countBetween.setLong(2, after);
        countBetween.setLong(3, upTo);
        try (ResultSet rs = countBetween.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private long timestampOf(long seq) throws SQLException {
        try (var st = connection.prepareStatement("SELECT ts FROM messages WHERE seq = ?")) {
            st.setLong(1, seq);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    private static SluiceException damaged(TopicRow topic, long seq, String why) {
        return new SluiceException.Corrupted("message " + seq + " in topic " + topic.name + " is damaged: " + why
                + "; it is not delivered");
    }

    void closeQuietly() {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // closing at shutdown; nothing left to protect
        }
    }
}
