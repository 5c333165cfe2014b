package io.sluice.store.sqlite;

import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import io.sluice.store.jdbc.SettledRuns;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The writer's view of consumer groups' modes, configurations, counters and delivery rows
 * ({@code group_deliveries}). A group is read from the database the first time a transaction touches
 * it and kept: the writer is the only one changing it, so what it holds is the truth once committed.
 * Changes are made in memory and written by {@link #flush} inside the same transaction (rows batched);
 * after a rollback {@link #forgetAll} drops everything, and the next touch reads the database again.
 *
 * <p>A shared group's unsettled messages are held in memory (at most its max in flight). What is
 * stored of them is the group's row, rewritten once per transaction that changed them: its cursor
 * (everything at or before it settled), its delivered mark (everything after it never delivered) and
 * the unsettled sequences between the two ({@link UnsettledSpan}, a few runs when the group drains in
 * order); a message without a row in {@code group_deliveries} was delivered once. Only a message
 * delivered more than once has a row (its count, holder and due time), so leasing and settling first
 * deliveries writes no row at all, and reading a group back is its row and the index range of its
 * rows. An exclusive group's rows are read by range when needed, never held. Writer thread only.
 */
final class GroupTable implements AutoCloseable {
    /** A delivered, unsettled message of a shared group. */
    static final class Entry {
        int deliveries;
        String holder;    // null: not leased
        long epoch;       // the store run that granted the lease
        long dueAt;       // leased: when the lease expires; else when it may be leased again (Unix ms)
        boolean stored;   // a row exists in the database (else removing it needs no write)

        /** Leased to {@code h} and not expired at {@code now}: an expired lease is nobody's to settle. */
        boolean heldBy(String h, long now) {
            return h.equals(holder) && dueAt > now;
        }

        /** Whether the entry needs a row: a first delivery is recorded by the group's row alone. */
        boolean needsRow() {
            return stored || deliveries > 1;
        }

        Entry(int deliveries, String holder, long epoch, long dueAt) {
            this.deliveries = deliveries;
            this.holder = holder;
            this.epoch = epoch;
            this.dueAt = dueAt;
        }
    }

    /** One consumer group as the writer knows it. */
    static final class Group {
        final TopicRow topic;
        final String name;
        GroupMode mode;
        GroupConfig config;
        long cursor;        // exclusive: the persisted cursor; shared: derived from the entries at flush
        long delivered;     // the highest sequence ever delivered (leased)
        long deadLettered;
        long redelivered;
        long lastAckAt;
        final TreeMap<Long, Entry> entries = new TreeMap<>();   // shared only
        long scanAt = Long.MIN_VALUE;   // shared: no entry comes due before this (a lower bound; MIN: look)
        final TreeSet<Long> dirty = new TreeSet<>();             // shared entries changed in this transaction
        boolean headerDirty;

        Group(TopicRow topic, String name) {
            this.topic = topic;
            this.name = name;
        }

        boolean shared() {
            return mode == GroupMode.SHARED;
        }

        long sharedCursor() {
            return entries.isEmpty() ? delivered : entries.firstKey() - 1;
        }
    }

    private record Key(long topicId, String group) {
    }

    final long epoch;
    private final Map<Key, Group> cache = new HashMap<>();
    private final Set<Group> touched = new LinkedHashSet<>();
    private final GroupReads reads;
    final SettledRuns settledRuns;
    private final PreparedStatement insertGroup;
    private final PreparedStatement updateConfig;
    private final PreparedStatement updateHeader;
    private final PreparedStatement selectRange;
    private final PreparedStatement upsertRow;
    private final PreparedStatement deleteRow;
    private final PreparedStatement deleteUpTo;
    private final PreparedStatement deleteGroupRows;
    private final PreparedStatement deleteTopicRows;
    final PreparedStatement nextMessages;
    final PreparedStatement messageAt;
    final PreparedStatement messagesBetween;
    private int pendingUpserts;
    private int pendingDeletes;

    GroupTable(Connection c, long epoch) throws SQLException {
        this.epoch = epoch;
        reads = new GroupReads(c, epoch);
        settledRuns = new SettledRuns(c, "dead = 1");
        insertGroup = c.prepareStatement("""
                INSERT INTO consumer_groups (topic_id, name, cursor_seq, delivered_seq, created_at, last_ack_at, mode,
                    ack_wait_ms, max_deliveries, dead_letter_topic, max_in_flight, backoff_ms)
                VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)""");
        updateConfig = c.prepareStatement("""
                UPDATE consumer_groups SET ack_wait_ms = ?, max_deliveries = ?, dead_letter_topic = ?,
                    max_in_flight = ?, backoff_ms = ? WHERE topic_id = ? AND name = ?""");
        updateHeader = c.prepareStatement("""
                UPDATE consumer_groups SET delivered_seq = max(delivered_seq, ?), dead_lettered = ?, redelivered = ?,
                    cursor_seq = CASE WHEN mode = 1 THEN ? ELSE cursor_seq END,
                    unsettled = CASE WHEN mode = 1 THEN ? ELSE unsettled END,
                    in_flight = CASE WHEN mode = 1 THEN ? ELSE in_flight END,
                    last_ack_at = max(last_ack_at, ?) WHERE topic_id = ? AND name = ?""");
        selectRange = c.prepareStatement("""
                SELECT seq, deliveries, dead FROM group_deliveries
                WHERE topic_id = ? AND grp = ? AND seq BETWEEN ? AND ?""");
        upsertRow = c.prepareStatement("""
                INSERT INTO group_deliveries (topic_id, grp, seq, deliveries, holder, epoch, due_at, dead)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (topic_id, grp, seq) DO UPDATE SET deliveries = excluded.deliveries,
                    holder = excluded.holder, epoch = excluded.epoch, due_at = excluded.due_at, dead = excluded.dead""");
        deleteRow = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ? AND grp = ? AND seq = ?");
        deleteUpTo = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ? AND grp = ? AND seq <= ?");
        deleteGroupRows = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ? AND grp = ?");
        deleteTopicRows = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ?");
        nextMessages = c.prepareStatement("SELECT seq FROM messages WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT ?");
        messageAt = c.prepareStatement("SELECT mid, ts, payload, attrs FROM messages WHERE seq = ? AND topic_id = ?");
        messagesBetween = c.prepareStatement(
                "SELECT 1 FROM messages WHERE topic_id = ? AND seq > ? AND seq < ? LIMIT 1");
    }

    /** The group as this transaction sees it, read from the database the first time; null when it does not exist. */
    Group find(TopicRow topic, String name, long now) throws SQLException {
        Group g = cache.get(new Key(topic.id, name));
        if (g != null) {
            return g;
        }
        g = reads.group(topic, name, now);
        if (g != null) {
            cache.put(new Key(topic.id, name), g);
        }
        return g;
    }

    /** True when {@code g} is the group this table holds for its key (not one forgotten since). */
    boolean cached(Group g) {
        return cache.get(new Key(g.topic.id, g.name)) == g;
    }

    /** Stores a new group and keeps it. */
    Group create(TopicRow topic, String name, GroupMode mode, GroupConfig config, long cursor, long now)
            throws SQLException {
        insertGroup.setLong(1, topic.id);
        insertGroup.setString(2, name);
        insertGroup.setLong(3, cursor);
        insertGroup.setLong(4, cursor);
        insertGroup.setLong(5, now);
        insertGroup.setInt(6, mode == GroupMode.SHARED ? 1 : 0);
        bindConfig(insertGroup, 7, config);
        insertGroup.executeUpdate();
        var g = new Group(topic, name);
        g.mode = mode;
        g.config = config;
        g.cursor = cursor;
        g.delivered = cursor;
        cache.put(new Key(topic.id, name), g);
        return g;
    }

    void configure(Group g, GroupConfig config) throws SQLException {
        bindConfig(updateConfig, 1, config);
        updateConfig.setLong(6, g.topic.id);
        updateConfig.setString(7, g.name);
        updateConfig.executeUpdate();
        g.config = config;
    }

    private static void bindConfig(PreparedStatement st, int at, GroupConfig config) throws SQLException {
        st.setLong(at, config.ackWaitMs());
        st.setLong(at + 1, config.maxDeliveries());
        st.setString(at + 2, config.deadLetterTopic());
        st.setLong(at + 3, config.maxInFlight());
        st.setString(at + 4, String.join(",", config.backoffMs().stream().map(String::valueOf).toList()));
    }

    /** The group's counters, delivered mark or shared entries changed: written at the next flush. */
    void touch(Group g) {
        g.headerDirty = true;
        touched.add(g);
    }

    /**
     * The cached shared groups the writer must look at although no stream asks: one of their leases
     * expired (so the message is given back after its backoff, or dead-lettered once exhausted), or
     * retention removed the message of one of their entries (settled: nothing is left to deliver).
     */
    List<Group> needingSweep(long nowMillis) {
        var out = new ArrayList<Group>();
        for (Group g : cache.values()) {
            if (!g.shared() || g.entries.isEmpty()) {
                continue;
            }
            if (gone(g, g.entries.firstKey())) {
                out.add(g);
                continue;
            }
            if (nowMillis < g.scanAt) {
                continue;
            }
            for (Entry e : g.entries.values()) {
                if (e.holder != null && e.dueAt <= nowMillis) {
                    out.add(g);
                    break;
                }
            }
        }
        return out;
    }

    /**
     * True when the message at {@code seq} of the group's topic was removed (retention), as of the last
     * commit (a message appended by the transaction under way is after the topic's last sequence).
     */
    static boolean gone(Group g, long seq) {
        TopicRow t = g.topic;
        return seq <= t.lastSequence && (seq < t.firstSequence || t.firstPosition > t.lastPosition);
    }

    /** A shared entry at {@code seq} was added, changed or removed. */
    void touch(Group g, long seq) {
        g.dirty.add(seq);
        touch(g);
    }

    /**
     * A shared entry was removed from {@code g.entries} (settled): its row is deleted at the flush,
     * unless it never reached the database (leased and settled within one transaction).
     */
    void removed(Group g, long seq, Entry e) {
        if (e.stored) {
            touch(g, seq);
        } else {
            g.dirty.remove(seq);
            touch(g);
        }
    }

    /** Exclusive: the stored rows of the group between two sequences: seq to {deliveries, dead}. */
    Map<Long, int[]> rows(Group g, long from, long to) throws SQLException {
        var out = new HashMap<Long, int[]>();
        selectRange.setLong(1, g.topic.id);
        selectRange.setString(2, g.name);
        selectRange.setLong(3, from);
        selectRange.setLong(4, to);
        try (ResultSet rs = selectRange.executeQuery()) {
            while (rs.next()) {
                out.put(rs.getLong(1), new int[] {rs.getInt(2), rs.getInt(3)});
            }
        }
        return out;
    }

    /** Exclusive: writes one row at once (they are rare: redeliveries and terminations). */
    void writeRow(Group g, long seq, int deliveries, boolean dead) throws SQLException {
        bindRow(g, seq, deliveries, null, 0, 0, dead);
        upsertRow.executeUpdate();
    }

    private void bindRow(Group g, long seq, int deliveries, String holder, long rowEpoch, long dueAt, boolean dead)
            throws SQLException {
        upsertRow.setLong(1, g.topic.id);
        upsertRow.setString(2, g.name);
        upsertRow.setLong(3, seq);
        upsertRow.setInt(4, deliveries);
        upsertRow.setString(5, holder);
        upsertRow.setLong(6, rowEpoch);
        upsertRow.setLong(7, dueAt);
        upsertRow.setInt(8, dead ? 1 : 0);
    }

    /**
     * An exclusive group's cursor reached {@code sequence} (an ack in this transaction): its rows up to
     * it are no longer needed. Called from the writer's ack flush, after {@link #flush}.
     */
    void acked(TopicRow topic, String group, long sequence) throws SQLException {
        Group g = cache.get(new Key(topic.id, group));
        if (g != null) {
            if (g.shared()) {
                return;   // shared groups never take cumulative acks
            }
            g.cursor = Math.max(g.cursor, sequence);
            g.delivered = Math.max(g.delivered, g.cursor);
        }
        deleteUpTo.setLong(1, topic.id);
        deleteUpTo.setString(2, group);
        deleteUpTo.setLong(3, sequence);
        deleteUpTo.executeUpdate();
    }

    /** The group's cursor was set or the group deleted: its rows go, and it is read again when next touched. */
    void reset(TopicRow topic, String group) throws SQLException {
        Group g = cache.remove(new Key(topic.id, group));
        if (g != null) {
            touched.remove(g);
        }
        deleteGroupRows.setLong(1, topic.id);
        deleteGroupRows.setString(2, group);
        deleteGroupRows.executeUpdate();
    }

    /** The topic was deleted with its groups. */
    void topicDeleted(TopicRow topic) throws SQLException {
        cache.keySet().removeIf(k -> k.topicId() == topic.id);
        touched.removeIf(g -> g.topic.id == topic.id);
        deleteTopicRows.setLong(1, topic.id);
        deleteTopicRows.executeUpdate();
    }

    /** Writes every change made since the last flush: shared rows batched, then one header update per group. */
    void flush(long now) throws SQLException {
        if (touched.isEmpty()) {
            return;
        }
        for (Group g : touched) {
            for (long seq : g.dirty) {
                Entry e = g.entries.get(seq);
                if (e != null && !e.needsRow()) {
                    continue;
                }
                if (e == null) {
                    deleteRow.setLong(1, g.topic.id);
                    deleteRow.setString(2, g.name);
                    deleteRow.setLong(3, seq);
                    deleteRow.addBatch();
                    pendingDeletes++;
                } else {
                    bindRow(g, seq, e.deliveries, e.holder, e.epoch, e.dueAt, false);
                    upsertRow.addBatch();
                    pendingUpserts++;
                    e.stored = true;   // forgotten with the whole cache if the transaction rolls back
                }
            }
            g.dirty.clear();
        }
        if (pendingDeletes > 0) {
            pendingDeletes = 0;
            deleteRow.executeBatch();
        }
        if (pendingUpserts > 0) {
            pendingUpserts = 0;
            upsertRow.executeBatch();
        }
        for (Group g : touched) {
            if (!g.headerDirty) {
                continue;
            }
            g.headerDirty = false;
            updateHeader.setLong(1, g.delivered);
            updateHeader.setLong(2, g.deadLettered);
            updateHeader.setLong(3, g.redelivered);
            long cursor = g.sharedCursor();
            updateHeader.setLong(4, cursor);
            updateHeader.setBytes(5, g.shared() ? UnsettledSpan.encode(cursor, g.entries.keySet()) : null);
            updateHeader.setLong(6, g.entries.size());
            updateHeader.setLong(7, g.lastAckAt);
            updateHeader.setLong(8, g.topic.id);
            updateHeader.setString(9, g.name);
            updateHeader.executeUpdate();
        }
        touched.clear();
    }

    /** After a rollback: what memory holds may be ahead of the database; read it again when needed. */
    void forgetAll() {
        cache.clear();
        touched.clear();
        pendingUpserts = 0;
        pendingDeletes = 0;
        try {
            upsertRow.clearBatch();
            deleteRow.clearBatch();
        } catch (SQLException ignored) {
            // the statements are prepared again after a rollback anyway
        }
    }

    @Override
    public void close() throws SQLException {
        reads.close();
        settledRuns.close();
        for (var st : new PreparedStatement[] {insertGroup, updateConfig, updateHeader,
                selectRange, upsertRow, deleteRow, deleteUpTo, deleteGroupRows, deleteTopicRows, nextMessages,
                messageAt, messagesBetween}) {
            st.close();
        }
    }
}
