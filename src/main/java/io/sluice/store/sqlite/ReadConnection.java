package io.sluice.store.sqlite;

import com.google.protobuf.UnsafeByteOperations;
import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.GroupCursor;
import io.sluice.store.GroupMode;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicStats;
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
    private final PreparedStatement oldest;
    private final PreparedStatement newest;
    private final PreparedStatement positionAtOrBefore;
    private final PreparedStatement groups;
    private final TimeIndex timeIndex;
    private final PreparedStatement firstAfter;
    private final PreparedStatement firstLive;     // exclusive: the first delivered message not settled by a Term
    private final PreparedStatement deadBetween;   // exclusive: terminated or dead-lettered messages in a range

    ReadConnection(Connection connection) {
        this.connection = connection;
        try {
            range = connection.prepareStatement("""
                    SELECT seq, mid, ts, payload, attrs, crc FROM messages
                    WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT ?""");
            bySequence = connection.prepareStatement("SELECT topic_id, mid FROM messages WHERE seq = ?");
            oldest = connection.prepareStatement("SELECT seq, pos, ts, bstart, length(payload), attrs FROM messages "
                    + "WHERE topic_id = ? ORDER BY seq LIMIT 1");
            newest = connection.prepareStatement("SELECT seq, pos, ts, bstart, length(payload), attrs FROM messages "
                    + "WHERE topic_id = ? ORDER BY seq DESC LIMIT 1");
            positionAtOrBefore = connection.prepareStatement(
                    "SELECT pos FROM messages WHERE topic_id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1");
            groups = connection.prepareStatement("""
                    SELECT name, cursor_seq, last_ack_at, mode, delivered_seq, dead_lettered, redelivered, in_flight
                    FROM consumer_groups WHERE topic_id = ? ORDER BY name""");
            firstAfter = connection.prepareStatement(
                    "SELECT ts FROM messages WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT 1");
            firstLive = connection.prepareStatement("""
                    SELECT ts FROM messages m WHERE topic_id = ? AND seq > ? AND seq <= ? AND NOT EXISTS (
                        SELECT 1 FROM group_deliveries d WHERE d.topic_id = m.topic_id AND d.grp = ? AND d.seq = m.seq
                        AND d.dead = 1)
                    ORDER BY seq LIMIT 1""");
            deadBetween = connection.prepareStatement(
                    "SELECT count(*) FROM group_deliveries WHERE topic_id = ? AND grp = ? AND seq > ? AND seq <= ? "
                            + "AND dead = 1");
            timeIndex = new TimeIndex(connection);
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
     * The topic's counts, from positions (each message's place in its topic): the topic holds its last
     * position minus its first plus one messages, and a group has as many pending as lie between its
     * cursor's position and the last. One indexed lookup per group, never a count over rows.
     */
    TopicStats stats(TopicRow topic) throws SQLException {
        // One read transaction, so every figure comes from one snapshot: read one by one, a commit between
        // the oldest and the newest message showed a topic one batch over its retention limit.
        connection.setAutoCommit(false);
        try {
            return statsInSnapshot(topic);
        } finally {
            connection.setAutoCommit(true);
        }
    }

    private TopicStats statsInSnapshot(TopicRow topic) throws SQLException {
        long[] first = edge(oldest, topic);
        long[] last = edge(newest, topic);
        long total = last == null ? 0 : last[1] - first[1] + 1;
        var groupStats = new ArrayList<TopicStats.GroupStats>();
        var delivered = new ArrayList<Long>();
        groups.setLong(1, topic.id);
        try (ResultSet rs = groups.executeQuery()) {
            while (rs.next()) {
                long cursor = rs.getLong(2);
                boolean shared = rs.getInt(4) == 1;
                groupStats.add(new TopicStats.GroupStats(rs.getString(1), cursor, 0, rs.getLong(3),
                        shared ? GroupMode.SHARED : GroupMode.EXCLUSIVE, shared ? rs.getLong(8) : 0, 0, rs.getLong(6),
                        rs.getLong(7)));
                delivered.add(rs.getLong(5));
            }
        }
        for (int i = 0; i < groupStats.size(); i++) {
            var g = groupStats.get(i);
            long cursor = g.cursor();
            long pendingCount;
            if (total == 0 || cursor < first[0]) {
                pendingCount = total;
            } else if (cursor >= last[0]) {
                pendingCount = 0;
            } else {
                pendingCount = last[1] - positionAtOrBefore(topic, cursor);
            }
            long[] flight = inFlight(topic, g, delivered.get(i), total == 0 ? null : first);
            groupStats.set(i, new TopicStats.GroupStats(g.group(), cursor, pendingCount, g.lastAckAt(), g.mode(),
                    flight[0], flight[1], g.deadLettered(), g.redelivered()));
        }
        // The bytes are kept counters of the topic (the bytes appended before its oldest and through its newest
        // message), read in the same snapshot as the counts.
        // A topic emptied by retention keeps its last sequence (what expected_last_sequence compares with).
        return total == 0
                ? new TopicStats(topic.name, 0, 0, topic.lastSequence, 0, 0, topic.createdAt, groupStats, topic.config,
                        0, topic.discarded)
                : new TopicStats(topic.name, total, first[0], last[0], first[2], last[2], topic.createdAt, groupStats,
                        topic.config, last[4] - first[3], topic.discarded);
    }

    /**
     * The group's delivered, unsettled messages and the publish time of the oldest (0 when none): a
     * shared group keeps their number in its row, and the oldest is the first message after its
     * cursor; in an exclusive group they are the messages between its cursor and its delivered mark.
     */
    private long[] inFlight(TopicRow topic, TopicStats.GroupStats g, long delivered, long[] first) throws SQLException {
        if (g.mode() == GroupMode.SHARED) {
            if (g.inFlight() == 0) {
                return new long[] {0, 0};
            }
            firstAfter.setLong(1, topic.id);
            firstAfter.setLong(2, g.cursor());
            try (ResultSet rs = firstAfter.executeQuery()) {
                return new long[] {g.inFlight(), rs.next() ? rs.getLong(1) : 0};
            }
        }
        if (first == null || delivered <= g.cursor()) {
            return new long[] {0, 0};
        }
        // Terminated and dead-lettered messages (rows marked dead) are settled: neither counted nor the oldest.
        long from = g.cursor() < first[0] ? first[1] - 1 : positionAtOrBefore(topic, g.cursor());
        deadBetween.setLong(1, topic.id);
        deadBetween.setString(2, g.group());
        deadBetween.setLong(3, Math.max(g.cursor(), first[0] - 1));
        deadBetween.setLong(4, delivered);
        long dead;
        try (ResultSet rs = deadBetween.executeQuery()) {
            dead = rs.next() ? rs.getLong(1) : 0;
        }
        long count = Math.max(0, positionAtOrBefore(topic, delivered) - from - dead);
        if (count == 0) {
            return new long[] {0, 0};
        }
        firstLive.setLong(1, topic.id);
        firstLive.setLong(2, g.cursor());
        firstLive.setLong(3, delivered);
        firstLive.setString(4, g.group());
        try (ResultSet rs = firstLive.executeQuery()) {
            return new long[] {count, rs.next() ? rs.getLong(1) : 0};
        }
    }

    /** Sequence, position and timestamp of the topic's oldest or newest message; null when it has none. */
    /** The oldest or newest message: sequence, position, timestamp, bytes appended before it and through it. */
    private static long[] edge(PreparedStatement query, TopicRow topic) throws SQLException {
        query.setLong(1, topic.id);
        try (ResultSet rs = query.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            long before = rs.getLong(4);
            return new long[] {rs.getLong(1), rs.getLong(2), rs.getLong(3), before,
                before + rs.getLong(5) + Startup.attributeBytes(rs.getBytes(6))};
        }
    }

    /** The position of the topic's last message at or before {@code sequence} (0 when there is none). */
    private long positionAtOrBefore(TopicRow topic, long sequence) throws SQLException {
        positionAtOrBefore.setLong(1, topic.id);
        positionAtOrBefore.setLong(2, sequence);
        try (ResultSet rs = positionAtOrBefore.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /** The group's stored cursor and delivered mark, or null when it has none. */
    io.sluice.store.GroupPosition groupPosition(TopicRow topic, String group) throws SQLException {
        try (var st = connection.prepareStatement(
                "SELECT cursor_seq, delivered_seq FROM consumer_groups WHERE topic_id = ? AND name = ?")) {
            st.setLong(1, topic.id);
            st.setString(2, group);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? new io.sluice.store.GroupPosition(rs.getLong(1), rs.getLong(2)) : null;
            }
        }
    }

    /** See {@link TimeIndex#cursorAt}: searched from the topic's oldest retained message. */
    long cursorAtTime(TopicRow topic, long millis) throws SQLException {
        return timeIndex.cursorAt(topic.id, topic.firstSequence, topic.lastSequence, millis);
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
