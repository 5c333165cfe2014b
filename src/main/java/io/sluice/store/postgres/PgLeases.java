package io.sluice.store.postgres;

import java.sql.Array;
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

/**
 * The writer's statements on a shared group's unsettled messages ({@code group_deliveries}): one row
 * per message leased and not yet settled, with its delivery count, its holder (null when not leased),
 * the store run that granted the lease, and when the lease expires or the message may be leased
 * again. Nothing is kept in memory between transactions: several brokers change these rows, each in
 * a transaction that first locks the group's row ({@link PgGroups#find}). Writer thread only.
 */
final class PgLeases implements AutoCloseable {
    /** A delivered, unsettled message of a shared group, as stored. */
    record Entry(long seq, int deliveries, String holder, long epoch, long dueAt) {
        Entry leasedTo(String newHolder, long newEpoch, long until) {
            return new Entry(seq, deliveries + 1, newHolder, newEpoch, until);
        }

        Entry availableAt(long at) {
            return new Entry(seq, deliveries, null, 0, at);
        }

        /** Leased to {@code h} and not expired at {@code now}: an expired lease is nobody's to settle. */
        boolean heldBy(String h, long now) {
            return h.equals(holder) && dueAt > now;
        }
    }

    /** A store run is gone when it has not said it is alive for this long (it does so every second). */
    static final int RUN_GONE_SECONDS = 15;
    /** The epochs of the store runs alive now. */
    static final String LIVE_RUNS = "SELECT epoch FROM store_runs WHERE alive_at > now() - make_interval(secs => "
            + RUN_GONE_SECONDS + ")";

    private final Connection connection;
    private final PreparedStatement liveRuns;
    private final PreparedStatement actionable;
    private final PreparedStatement byHolder;
    private final PreparedStatement bySequences;
    private final PreparedStatement upsert;
    private final PreparedStatement delete;
    private final PreparedStatement unsettled;
    private final PreparedStatement nextDue;
    private final PreparedStatement save;
    private final PreparedStatement nextMessages;
    private final PreparedStatement expired;
    private final PreparedStatement settleRemoved;

    PgLeases(Connection c) throws SQLException {
        connection = c;
        liveRuns = c.prepareStatement(LIVE_RUNS);
        String columns = "SELECT seq, deliveries, holder, epoch, due_at FROM group_deliveries ";
        actionable = c.prepareStatement(columns + "WHERE topic_id = ? AND grp = ? AND NOT dead "
                + "AND (due_at <= ? OR (holder IS NOT NULL AND epoch <> ALL (?))) ORDER BY seq");
        byHolder = c.prepareStatement(columns + "WHERE topic_id = ? AND grp = ? AND NOT dead AND holder = ? "
                + "ORDER BY seq");
        bySequences = c.prepareStatement(columns + "WHERE topic_id = ? AND grp = ? AND NOT dead AND seq = ANY (?)");
        upsert = c.prepareStatement("""
                INSERT INTO group_deliveries (topic_id, grp, seq, deliveries, holder, epoch, due_at, dead)
                VALUES (?, ?, ?, ?, ?, ?, ?, false)
                ON CONFLICT (topic_id, grp, seq) DO UPDATE SET deliveries = excluded.deliveries,
                    holder = excluded.holder, epoch = excluded.epoch, due_at = excluded.due_at, dead = false""");
        delete = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ? AND grp = ? AND seq = ?");
        unsettled = c.prepareStatement(
                "SELECT count(*) FROM group_deliveries WHERE topic_id = ? AND grp = ? AND NOT dead");
        nextDue = c.prepareStatement("SELECT min(due_at) FROM group_deliveries WHERE topic_id = ? AND grp = ? "
                + "AND NOT dead AND due_at > ?");
        // A shared group's cursor: just before its oldest unsettled message, else its highest leased.
        save = c.prepareStatement("""
                UPDATE consumer_groups SET delivered_seq = ?, redelivered = redelivered + ?,
                    last_ack_at = greatest(last_ack_at, ?),
                    cursor_seq = coalesce((SELECT min(seq) - 1 FROM group_deliveries
                                           WHERE topic_id = ? AND grp = ? AND NOT dead), ?)
                WHERE topic_id = ? AND name = ?""");
        nextMessages = c.prepareStatement(
                "SELECT seq FROM messages WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT ?");
        expired = c.prepareStatement("""
                SELECT DISTINCT t.name, d.grp FROM group_deliveries d JOIN topics t ON t.id = d.topic_id
                WHERE NOT d.dead AND d.holder IS NOT NULL AND d.due_at <= ? LIMIT 100""");
        settleRemoved = c.prepareStatement("""
                DELETE FROM group_deliveries WHERE topic_id = ? AND seq <= ? AND NOT dead
                    AND grp IN (SELECT name FROM consumer_groups WHERE topic_id = ? AND mode = 'SHARED')
                RETURNING grp""");
    }

    /** The store runs alive now (each said so within {@link #RUN_GONE_SECONDS}), {@code own} always among them. */
    Array liveRuns(long own) throws SQLException {
        var out = new ArrayList<Long>();
        out.add(own);
        try (ResultSet rs = liveRuns.executeQuery()) {
            while (rs.next()) {
                out.add(rs.getLong(1));
            }
        }
        return connection.createArrayOf("bigint", out.toArray());
    }

    /** The entries a lease request acts on, in sequence order: due by {@code now}, or leased by a run that is gone. */
    List<Entry> actionable(long topicId, String group, long now, Array live) throws SQLException {
        actionable.setLong(1, topicId);
        actionable.setString(2, group);
        actionable.setLong(3, now);
        actionable.setArray(4, live);
        return entries(actionable);
    }

    /** The entries {@code holder} holds, in sequence order. */
    List<Entry> heldBy(long topicId, String group, String holder) throws SQLException {
        byHolder.setLong(1, topicId);
        byHolder.setString(2, group);
        byHolder.setString(3, holder);
        return entries(byHolder);
    }

    /** The unsettled entries among {@code sequences}, by sequence. */
    Map<Long, Entry> find(long topicId, String group, List<Long> sequences) throws SQLException {
        bySequences.setLong(1, topicId);
        bySequences.setString(2, group);
        bySequences.setArray(3, connection.createArrayOf("bigint", sequences.toArray()));
        var out = new HashMap<Long, Entry>();
        for (Entry e : entries(bySequences)) {
            out.put(e.seq(), e);
        }
        return out;
    }

    private static List<Entry> entries(PreparedStatement st) throws SQLException {
        var out = new ArrayList<Entry>();
        try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                out.add(new Entry(rs.getLong(1), rs.getInt(2), rs.getString(3), rs.getLong(4), rs.getLong(5)));
            }
        }
        return out;
    }

    /** Writes an entry (batched until {@link #flush}). */
    void put(long topicId, String group, Entry e) throws SQLException {
        upsert.setLong(1, topicId);
        upsert.setString(2, group);
        upsert.setLong(3, e.seq());
        upsert.setInt(4, e.deliveries());
        upsert.setString(5, e.holder());
        upsert.setLong(6, e.epoch());
        upsert.setLong(7, e.dueAt());
        upsert.addBatch();
    }

    /** Removes a settled entry (batched until {@link #flush}). */
    void remove(long topicId, String group, long seq) throws SQLException {
        delete.setLong(1, topicId);
        delete.setString(2, group);
        delete.setLong(3, seq);
        delete.addBatch();
    }

    /** Sends the batched writes and removals. */
    void flush() throws SQLException {
        upsert.executeBatch();
        delete.executeBatch();
    }

    /** After a failed transaction: forgets the batched writes. */
    void clear() {
        try {
            upsert.clearBatch();
            delete.clearBatch();
        } catch (SQLException ignored) {
            // a statement of a lost connection: the connection is replaced before the next transaction
        }
    }

    /** How many messages the group holds delivered and unsettled. */
    long unsettled(long topicId, String group) throws SQLException {
        unsettled.setLong(1, topicId);
        unsettled.setString(2, group);
        try (ResultSet rs = unsettled.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The earliest time after {@code now} at which a lease expires or a backoff ends; MAX_VALUE when none. */
    long nextDue(long topicId, String group, long now) throws SQLException {
        nextDue.setLong(1, topicId);
        nextDue.setString(2, group);
        nextDue.setLong(3, now);
        try (ResultSet rs = nextDue.executeQuery()) {
            rs.next();
            long due = rs.getLong(1);
            return rs.wasNull() ? Long.MAX_VALUE : due;
        }
    }

    /** Up to {@code limit} sequences of the topic after {@code after}. */
    List<Long> messagesAfter(long topicId, long after, int limit) throws SQLException {
        nextMessages.setLong(1, topicId);
        nextMessages.setLong(2, after);
        nextMessages.setInt(3, limit);
        var out = new ArrayList<Long>();
        try (ResultSet rs = nextMessages.executeQuery()) {
            while (rs.next()) {
                out.add(rs.getLong(1));
            }
        }
        return out;
    }

    /** Writes the group's delivered mark, counters and cursor (after {@link #flush}). */
    void saveGroup(long topicId, String group, long delivered, long redeliveries, long lastAckAt) throws SQLException {
        save.setLong(1, delivered);
        save.setLong(2, redeliveries);
        save.setLong(3, lastAckAt);
        save.setLong(4, topicId);
        save.setString(5, group);
        save.setLong(6, delivered);
        save.setLong(7, topicId);
        save.setString(8, group);
        save.executeUpdate();
    }

    /**
     * The shared groups (topic and group names, at most 100) holding a lease that expired by {@code now}:
     * no stream of theirs may be asking, so the writer's background gives the messages back or
     * dead-letters them ({@link PgSharedOps#sweep}).
     */
    List<String[]> withExpiredLeases(long now) throws SQLException {
        expired.setLong(1, now);
        var out = new ArrayList<String[]>();
        try (ResultSet rs = expired.executeQuery()) {
            while (rs.next()) {
                out.add(new String[] {rs.getString(1), rs.getString(2)});
            }
        }
        return out;
    }

    /** Settles the shared groups' entries of messages retention removed (through {@code seq}); answers the groups. */
    Set<String> settleRemoved(long topicId, long seq) throws SQLException {
        settleRemoved.setLong(1, topicId);
        settleRemoved.setLong(2, seq);
        settleRemoved.setLong(3, topicId);
        var groups = new LinkedHashSet<String>();
        try (ResultSet rs = settleRemoved.executeQuery()) {
            while (rs.next()) {
                groups.add(rs.getString(1));
            }
        }
        return groups;
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(liveRuns, actionable, byHolder, bySequences, upsert, delete, unsettled, nextDue, save,
                nextMessages, expired, settleRemoved)) {
            st.close();
        }
    }
}
