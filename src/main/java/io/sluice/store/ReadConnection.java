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
    private final PreparedStatement counts;
    private final PreparedStatement groups;
    private final PreparedStatement pending;

    ReadConnection(Connection connection) {
        this.connection = connection;
        try {
            range = connection.prepareStatement("""
                    SELECT seq, mid, ts, payload, attrs, crc FROM messages
                    WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT ?""");
            bySequence = connection.prepareStatement("SELECT topic_id, mid FROM messages WHERE seq = ?");
            counts = connection.prepareStatement("""
                    SELECT count(*), min(seq), max(seq) FROM messages WHERE topic_id = ?""");
            groups = connection.prepareStatement("""
                    SELECT name, cursor_seq, last_ack_at FROM consumer_groups WHERE topic_id = ? ORDER BY name""");
            pending = connection.prepareStatement("SELECT count(*) FROM messages WHERE topic_id = ? AND seq > ?");
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

    TopicStats stats(TopicRow topic) throws SQLException {
        long total;
        long first;
        long last;
        counts.setLong(1, topic.id);
        try (ResultSet rs = counts.executeQuery()) {
            rs.next();
            total = rs.getLong(1);
            first = rs.getLong(2);
            last = rs.getLong(3);
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
            pending.setLong(1, topic.id);
            pending.setLong(2, g.cursor());
            try (ResultSet rs = pending.executeQuery()) {
                rs.next();
                groupStats.set(i, new TopicStats.GroupStats(g.group(), g.cursor(), rs.getLong(1), g.lastAckAt()));
            }
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
