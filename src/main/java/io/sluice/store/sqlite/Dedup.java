package io.sluice.store.sqlite;

import io.sluice.domain.MessageIds;
import io.sluice.store.Appended;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The dedup ids of one writer transaction: looked up in what this transaction stored (not yet
 * written) and then in {@code dedup_ids}; remembered with their message in the same transaction;
 * forgotten a chunk at a time once past their topic's window. A row past the window is never
 * answered, whether or not it was removed yet.
 *
 * <p>Threading: the writer thread only, like {@link WriteTx}, which owns it.
 */
final class Dedup implements AutoCloseable {
    private final PreparedStatement select;
    private final PreparedStatement upsert;
    private final PreparedStatement sweep;
    private final PreparedStatement oldest;
    private final PreparedStatement forgetAll;
    /** Dedup ids stored in this transaction, by topic row. */
    private final Map<TopicRow, Map<String, Appended>> stored = new HashMap<>();
    /** The oldest remembered dedup id per topic once this transaction commits. */
    private final Map<TopicRow, Long> oldestAfterCommit = new HashMap<>();
    private int pending;

    Dedup(Connection c) throws SQLException {
        select = c.prepareStatement("SELECT seq, mid, ts FROM dedup_ids WHERE topic_id = ? AND dedup_id = ?");
        upsert = c.prepareStatement("""
                INSERT INTO dedup_ids (topic_id, dedup_id, seq, mid, ts) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (topic_id, dedup_id) DO UPDATE SET seq = excluded.seq, mid = excluded.mid, ts = excluded.ts""");
        sweep = c.prepareStatement("""
                DELETE FROM dedup_ids WHERE topic_id = ?1 AND dedup_id IN
                    (SELECT dedup_id FROM dedup_ids WHERE topic_id = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3)""");
        oldest = c.prepareStatement("SELECT ts FROM dedup_ids WHERE topic_id = ? ORDER BY ts LIMIT 1");
        forgetAll = c.prepareStatement("""
                DELETE FROM dedup_ids WHERE topic_id = ?1 AND dedup_id IN
                    (SELECT dedup_id FROM dedup_ids WHERE topic_id = ?1 LIMIT ?2)""");
    }

    /** The message first stored with this dedup id in the topic within {@code windowMillis} of {@code now}, or null. */
    Appended original(TopicRow row, String dedupId, long now, long windowMillis) throws SQLException {
        Map<String, Appended> here = stored.get(row);
        Appended a = here == null ? null : here.get(dedupId);
        if (a == null && row.oldestDedup != Long.MAX_VALUE) {
            select.setLong(1, row.id);
            select.setString(2, dedupId);
            try (ResultSet rs = select.executeQuery()) {
                if (rs.next()) {
                    a = new Appended(MessageIds.fromBytes(rs.getBytes(2)), rs.getLong(1), rs.getLong(3));
                }
            }
        }
        return a != null && a.timestamp() >= now - windowMillis ? a : null;
    }

    /** Remembers the dedup id of a message stored in this transaction (written with the messages, see {@link #flush}). */
    void remember(TopicRow row, String dedupId, Appended stored, byte[] mid) throws SQLException {
        this.stored.computeIfAbsent(row, r -> new HashMap<>()).put(dedupId, stored);
        upsert.setLong(1, row.id);
        upsert.setString(2, dedupId);
        upsert.setLong(3, stored.sequence());
        upsert.setBytes(4, mid);
        upsert.setLong(5, stored.timestamp());
        upsert.addBatch();
        pending++;
        oldestAfterCommit.merge(row, Math.min(row.oldestDedup, stored.timestamp()), Math::min);
    }

    void flush() throws SQLException {
        if (pending > 0) {
            pending = 0;
            upsert.executeBatch();
        }
    }

    /** True when the topic remembers dedup ids older than {@code cutoff}. */
    static boolean due(TopicRow row, long cutoff) {
        return row.oldestDedup < cutoff;
    }

    /** Forgets up to {@code limit} of the topic's dedup ids older than {@code cutoff}; answers how many. */
    int forget(TopicRow row, long cutoff, int limit) throws SQLException {
        sweep.setLong(1, row.id);
        sweep.setLong(2, cutoff);
        sweep.setInt(3, limit);
        int removed = sweep.executeUpdate();
        oldest.setLong(1, row.id);
        try (ResultSet rs = oldest.executeQuery()) {
            oldestAfterCommit.put(row, rs.next() ? rs.getLong(1) : Long.MAX_VALUE);
        }
        return removed;
    }

    /** Forgets up to {@code limit} dedup ids of a deleted topic; answers how many. */
    int forgetTopic(long topicId, int limit) throws SQLException {
        forgetAll.setLong(1, topicId);
        forgetAll.setInt(2, limit);
        return forgetAll.executeUpdate();
    }

    /** After the commit: what the topics remember now. */
    void committed() {
        oldestAfterCommit.forEach((row, ts) -> row.oldestDedup = ts);
        clear();
    }

    void clear() {
        stored.clear();
        oldestAfterCommit.clear();
        pending = 0;
    }

    /** The topics, each with the timestamp of its oldest remembered dedup id, read at start-up. */
    static void load(Connection c, Map<String, TopicRow> topics) throws SQLException {
        var byId = new HashMap<Long, TopicRow>();
        topics.values().forEach(t -> byId.put(t.id, t));
        try (var st = c.prepareStatement("SELECT ts FROM dedup_ids WHERE topic_id = ? ORDER BY ts LIMIT 1")) {
            for (TopicRow row : byId.values()) {
                st.setLong(1, row.id);
                try (ResultSet rs = st.executeQuery()) {
                    row.oldestDedup = rs.next() ? rs.getLong(1) : Long.MAX_VALUE;
                }
            }
        }
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(select, upsert, sweep, oldest, forgetAll)) {
            st.close();
        }
    }
}
