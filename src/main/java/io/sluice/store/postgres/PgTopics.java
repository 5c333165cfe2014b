package io.sluice.store.postgres;

import io.sluice.domain.MessageIds;
import io.sluice.store.Appended;
import io.sluice.store.TopicConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * The writer's statements on topics' configurations and dedup ids (schema version 2, {@link
 * PgSchemaV2}). A dedup id is written in the transaction of its message and forgotten after its
 * topic's window: each append that carries dedup ids removes up to {@link #PURGE_CHUNK} expired ids
 * of its topic, so the table holds about a window's worth of ids. Writer thread only.
 */
final class PgTopics implements AutoCloseable {
    static final int PURGE_CHUNK = 1_000;

    private final long serverDedupWindow;
    private final PreparedStatement selectConfig;
    private final PreparedStatement configure;
    private final PreparedStatement findId;
    private final PreparedStatement rememberId;
    private final PreparedStatement purge;
    private final PreparedStatement dropTopic;

    PgTopics(Connection c, long serverDedupWindow) throws SQLException {
        this.serverDedupWindow = serverDedupWindow;
        selectConfig = c.prepareStatement(
                "SELECT max_age_ms, max_bytes, max_messages, discard, dedup_window_ms FROM topics WHERE id = ?");
        configure = c.prepareStatement("UPDATE topics SET max_age_ms = ?, max_bytes = ?, max_messages = ?, "
                + "discard = ?, dedup_window_ms = ? WHERE id = ?");
        findId = c.prepareStatement("SELECT seq, mid, ts FROM dedup_ids WHERE topic_id = ? AND dedup_id = ? AND ts > ?");
        rememberId = c.prepareStatement("INSERT INTO dedup_ids (topic_id, dedup_id, seq, mid, ts) VALUES (?, ?, ?, ?, ?) "
                + "ON CONFLICT (topic_id, dedup_id) DO UPDATE SET seq = excluded.seq, mid = excluded.mid, ts = excluded.ts");
        purge = c.prepareStatement("DELETE FROM dedup_ids WHERE ctid IN (SELECT ctid FROM dedup_ids "
                + "WHERE topic_id = ? AND ts <= ? LIMIT " + PURGE_CHUNK + ")");
        dropTopic = c.prepareStatement("DELETE FROM dedup_ids WHERE topic_id = ?");
    }

    TopicConfig config(long topicId) throws SQLException {
        selectConfig.setLong(1, topicId);
        try (ResultSet rs = selectConfig.executeQuery()) {
            rs.next();
            return new TopicConfig(rs.getLong(1), rs.getLong(2), rs.getLong(3),
                    TopicConfig.Discard.valueOf(rs.getString(4)), rs.getLong(5));
        }
    }

    void configure(long topicId, TopicConfig config) throws SQLException {
        configure.setLong(1, config.maxAgeMillis());
        configure.setLong(2, config.maxBytes());
        configure.setLong(3, config.maxMessages());
        configure.setString(4, config.discard().name());
        configure.setLong(5, config.dedupWindowMillis());
        configure.setLong(6, topicId);
        configure.executeUpdate();
    }

    /** The topic's dedup window in force (ms). */
    long dedupWindow(long topicId) throws SQLException {
        return config(topicId).dedupWindow(serverDedupWindow);
    }

    /** The original of a dedup id stored within the window ending {@code now}, or null. */
    Appended original(long topicId, String dedupId, long now, long window) throws SQLException {
        findId.setLong(1, topicId);
        findId.setString(2, dedupId);
        findId.setLong(3, now - window);
        try (ResultSet rs = findId.executeQuery()) {
            return rs.next()
                    ? new Appended(MessageIds.fromBytes(rs.getBytes(2)), rs.getLong(1), rs.getLong(3), true) : null;
        }
    }

    void remember(long topicId, String dedupId, long seq, byte[] mid, long ts) throws SQLException {
        rememberId.setLong(1, topicId);
        rememberId.setString(2, dedupId);
        rememberId.setLong(3, seq);
        rememberId.setBytes(4, mid);
        rememberId.setLong(5, ts);
        rememberId.executeUpdate();
    }

    /** Forgets up to a chunk of the topic's ids whose window ended by {@code now}. */
    void purge(long topicId, long now, long window) throws SQLException {
        purge.setLong(1, topicId);
        purge.setLong(2, now - window);
        purge.executeUpdate();
    }

    void dropTopic(long topicId) throws SQLException {
        dropTopic.setLong(1, topicId);
        dropTopic.executeUpdate();
    }

    /** Read side: the topic's stored configuration. */
    static TopicConfig configOf(Connection c, long topicId) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "SELECT max_age_ms, max_bytes, max_messages, discard, dedup_window_ms FROM topics WHERE id = ?")) {
            st.setLong(1, topicId);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return new TopicConfig(rs.getLong(1), rs.getLong(2), rs.getLong(3),
                        TopicConfig.Discard.valueOf(rs.getString(4)), rs.getLong(5));
            }
        }
    }

    /**
     * Read side: the cursor just before the topic's first message stamped at or after {@code millis}
     * (a binary search over the primary key, {@link PgTimeSeek}); its last sequence when none; 0 for an
     * unknown topic.
     */
    static long cursorAtTime(Connection c, String topic, long millis) throws SQLException {
        long id;
        long last;
        try (PreparedStatement st = c.prepareStatement("SELECT id, last_seq FROM topics WHERE name = ?")) {
            st.setString(1, topic);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return 0;
                }
                id = rs.getLong(1);
                last = rs.getLong(2);
            }
        }
        try (PreparedStatement st = c.prepareStatement(PgTimeSeek.FIRST_AT_OR_AFTER)) {
            long first = PgTimeSeek.firstAtOrAfter(st, id, last, millis);
            return first < 0 ? last : first - 1;
        }
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(selectConfig, configure, findId, rememberId, purge, dropTopic)) {
            st.close();
        }
    }
}
