package io.sluice.store.postgres;

import com.google.protobuf.UnsafeByteOperations;
import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.Footprint;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupCursor;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicConfig;
import io.sluice.store.TopicInfo;
import io.sluice.store.TopicStats;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The PostgreSQL backend's reads, each on a read thread's connection (see {@link PgReads}). Every
 * answer is what is committed now, whichever broker committed it. The driver caches the prepared
 * statements per connection, so each query is parsed once per connection.
 */
final class PgQueries {
    private PgQueries() {
    }

    /**
     * Up to {@code limit} messages of the topic after {@code after}, in order, checksums verified;
     * a damaged message ends the answer, and a read starting at one throws {@code Corrupted}.
     */
    static List<StoredMessage> range(Connection c, String topic, long after, int limit, long maxBytes)
            throws SQLException {
        var out = new ArrayList<StoredMessage>(Math.min(limit, 1024));
        long bytes = 0;
        try (PreparedStatement st = c.prepareStatement("""
                SELECT m.seq, m.mid, m.ts, m.payload, m.attrs, m.crc FROM messages m
                WHERE m.topic_id = (SELECT id FROM topics WHERE name = ?) AND m.seq > ?
                ORDER BY m.seq LIMIT ?""")) {
            st.setString(1, topic);
            st.setLong(2, after);
            st.setInt(3, limit);
            try (ResultSet rs = st.executeQuery()) {
                while (bytes < maxBytes && rs.next()) {
                    long seq = rs.getLong(1);
                    byte[] payload = rs.getBytes(4);
                    byte[] attrs = rs.getBytes(5);
                    String damage = null;
                    StoredMessage m = null;
                    byte[] mid = rs.getBytes(2);
                    if (PgWriteOp.checksum(payload, attrs) != rs.getLong(6)) {
                        damage = "its checksum does not match its contents";
                    } else if (mid == null || mid.length != 16) {
                        damage = "its id is malformed";
                    } else {
                        try {
                            m = new StoredMessage(seq, MessageIds.fromBytes(mid), rs.getLong(3),
                                    UnsafeByteOperations.unsafeWrap(payload), Attributes.decode(attrs));
                        } catch (IOException e) {
                            damage = "its attributes cannot be decoded";
                        }
                    }
                    if (damage != null) {
                        if (out.isEmpty()) {
                            throw new SluiceException.Corrupted("message " + seq + " in topic " + topic
                                    + " is damaged: " + damage + "; it is not delivered");
                        }
                        break;   // the intact ones before it are answered; the next read starts at it
                    }
                    bytes += payload.length + attrs.length;
                    out.add(m);
                }
            }
        }
        return out;
    }

    /** True when the message at {@code sequence} exists in the topic with exactly this id. */
    static boolean holds(Connection c, String topic, long sequence, byte[] id) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("""
                SELECT 1 FROM messages WHERE topic_id = (SELECT id FROM topics WHERE name = ?) AND seq = ? AND mid = ?""")) {
            st.setString(1, topic);
            st.setLong(2, sequence);
            st.setBytes(3, id);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** The topic's last committed sequence, or -1 when the topic does not exist. */
    static long lastSequence(Connection c, String topic) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("SELECT last_seq FROM topics WHERE name = ?")) {
            st.setString(1, topic);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getLong(1) : -1;
            }
        }
    }

    /** Every topic, ordered by the bytes of its name (as the SQLite backend orders them). */
    static List<TopicInfo> topics(Connection c) throws SQLException {
        var out = new ArrayList<TopicInfo>();
        try (PreparedStatement st = c.prepareStatement("SELECT name, created_at FROM topics ORDER BY name COLLATE \"C\"");
             ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                out.add(new TopicInfo(rs.getString(1), rs.getLong(2)));
            }
        }
        return out;
    }

    /**
     * The stats of the named topics (all when empty), ordered by name. Counts come from positions
     * (each message's place in its topic): one indexed lookup per group, never a count over rows.
     * One transaction, so every topic's figures are of one moment.
     */
    static List<TopicStats> stats(Connection c, List<String> names) throws SQLException {
        c.setAutoCommit(false);
        try {
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            var out = new ArrayList<TopicStats>();
            for (TopicInfo t : topics(c)) {
                if (names.isEmpty() || names.contains(t.name())) {
                    out.add(statsOf(c, t));
                }
            }
            c.commit();
            return out;
        } finally {
            c.rollback();
            c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
            c.setAutoCommit(true);
        }
    }

    private static TopicStats statsOf(Connection c, TopicInfo topic) throws SQLException {
        long id;
        long lastBytes;
        long discarded;
        long lastSeq;
        try (PreparedStatement st = c.prepareStatement(
                "SELECT id, last_bytes, discarded, last_seq FROM topics WHERE name = ?")) {
            st.setString(1, topic.name());
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                id = rs.getLong(1);
                lastBytes = rs.getLong(2);
                discarded = rs.getLong(3);
                lastSeq = rs.getLong(4);
            }
        }
        TopicConfig config = PgTopics.configOf(c, id);
        long[] first = edge(c, id, "ASC");
        long[] last = edge(c, id, "DESC");
        long total = last == null ? 0 : last[1] - first[1] + 1;
        var groups = new ArrayList<TopicStats.GroupStats>();
        try (PreparedStatement st = c.prepareStatement("""
                SELECT g.name, g.cursor_seq, g.last_ack_at,
                       (SELECT m.pos FROM messages m WHERE m.topic_id = g.topic_id AND m.seq <= g.cursor_seq
                        ORDER BY m.seq DESC LIMIT 1),
                       g.mode, g.delivered_seq, g.dead_lettered, g.redelivered
                FROM consumer_groups g WHERE g.topic_id = ? ORDER BY g.name COLLATE "C\"""")) {
            st.setLong(1, id);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    long cursor = rs.getLong(2);
                    long pending;
                    if (total == 0 || cursor < first[0]) {
                        pending = total;
                    } else if (cursor >= last[0]) {
                        pending = 0;
                    } else {
                        pending = last[1] - rs.getLong(4);
                    }
                    var mode = GroupMode.valueOf(rs.getString(5));
                    long[] flight = inFlight(c, id, rs.getString(1), mode, cursor, rs.getLong(6),
                            total == 0 ? null : first);
                    groups.add(new TopicStats.GroupStats(rs.getString(1), cursor, pending, rs.getLong(3), mode,
                            flight[0], flight[1], rs.getLong(7), rs.getLong(8)));
                }
            }
        }
        // A topic emptied by retention keeps its last sequence (what expected_last_sequence compares with).
        return total == 0
                ? new TopicStats(topic.name(), 0, 0, lastSeq, 0, 0, topic.createdAt(), groups, config, 0, discarded)
                : new TopicStats(topic.name(), total, first[0], last[0], first[2], last[2], topic.createdAt(), groups,
                        config, lastBytes - first[3], discarded);
    }

    /**
     * The group's delivered, unsettled messages and the publish time of the oldest (0 when none): a
     * shared group's rows; in an exclusive group the messages between its cursor and its delivered mark
     * that were not terminated or dead-lettered.
     */
    private static long[] inFlight(Connection c, long topicId, String group, GroupMode mode, long cursor,
                                   long delivered, long[] first) throws SQLException {
        if (mode == GroupMode.SHARED) {
            try (PreparedStatement st = c.prepareStatement("""
                    SELECT count(*), (SELECT m.ts FROM messages m WHERE m.topic_id = d.topic_id AND m.seq = min(d.seq))
                    FROM group_deliveries d WHERE d.topic_id = ? AND d.grp = ? AND NOT d.dead GROUP BY d.topic_id""")) {
                st.setLong(1, topicId);
                st.setString(2, group);
                try (ResultSet rs = st.executeQuery()) {
                    return rs.next() ? new long[] {rs.getLong(1), rs.getLong(2)} : new long[] {0, 0};
                }
            }
        }
        if (first == null || delivered <= cursor) {
            return new long[] {0, 0};
        }
        // Terminated and dead-lettered messages (rows marked dead) are settled: neither counted nor the oldest.
        long after = Math.max(cursor, first[0] - 1);
        try (PreparedStatement st = c.prepareStatement("""
                SELECT (SELECT m.pos FROM messages m WHERE m.topic_id = ? AND m.seq <= ? ORDER BY m.seq DESC LIMIT 1),
                       (SELECT m.pos FROM messages m WHERE m.topic_id = ? AND m.seq <= ? ORDER BY m.seq DESC LIMIT 1),
                       (SELECT m.ts FROM messages m WHERE m.topic_id = ? AND m.seq > ? AND m.seq <= ?
                          AND NOT EXISTS (SELECT 1 FROM group_deliveries d WHERE d.topic_id = m.topic_id
                                          AND d.grp = ? AND d.seq = m.seq AND d.dead)
                        ORDER BY m.seq LIMIT 1),
                       (SELECT count(*) FROM group_deliveries d WHERE d.topic_id = ? AND d.grp = ? AND d.seq > ?
                          AND d.seq <= ? AND d.dead)""")) {
            st.setLong(1, topicId);
            st.setLong(2, delivered);
            st.setLong(3, topicId);
            st.setLong(4, cursor);
            st.setLong(5, topicId);
            st.setLong(6, cursor);
            st.setLong(7, delivered);
            st.setString(8, group);
            st.setLong(9, topicId);
            st.setString(10, group);
            st.setLong(11, after);
            st.setLong(12, delivered);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                long from = cursor < first[0] ? first[1] - 1 : rs.getLong(2);
                long count = Math.max(0, rs.getLong(1) - from - rs.getLong(4));
                return count == 0 ? new long[] {0, 0} : new long[] {count, rs.getLong(3)};
            }
        }
    }

    /**
     * Sequence, position, timestamp and bytes appended before it of the topic's oldest (ASC) or newest
     * (DESC) message; null when none.
     */
    private static long[] edge(Connection c, long topicId, String order) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "SELECT seq, pos, ts, bstart FROM messages WHERE topic_id = ? ORDER BY seq " + order + " LIMIT 1")) {
            st.setLong(1, topicId);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? new long[] {rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4)} : null;
            }
        }
    }

    static List<GroupCursor> groupCursors(Connection c) throws SQLException {
        var out = new ArrayList<GroupCursor>();
        try (PreparedStatement st = c.prepareStatement("""
                SELECT t.name, g.name, g.cursor_seq FROM consumer_groups g JOIN topics t ON t.id = g.topic_id
                ORDER BY t.name COLLATE "C", g.name COLLATE "C\"""");
             ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                out.add(new GroupCursor(rs.getString(1), rs.getString(2), rs.getLong(3)));
            }
        }
        return out;
    }

    /** The size of the store's tables with their indexes and TOAST (PostgreSQL's log is the server's own). */
    static Footprint footprint(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("""
                SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)::regclass)), 0)
                FROM pg_tables WHERE schemaname = current_schema()
                AND tablename IN ('messages', 'topics', 'consumer_groups', 'group_deliveries', 'dedup_ids', 'store_runs',
                                  'sluice_counter', 'schema_migrations')""");
             ResultSet rs = st.executeQuery()) {
            rs.next();
            return new Footprint(rs.getLong(1), 0);
        }
    }
}
