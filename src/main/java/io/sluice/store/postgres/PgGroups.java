package io.sluice.store.postgres;

import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The writer's statements on consumer groups' modes, configurations and delivery counts (schema
 * version 2, {@link PgSchemaV2}). An exclusive group keeps a row in {@code group_deliveries} only for
 * a message after its cursor that was delivered more than once; the rows at or below the cursor are
 * removed with each ack, so the rows cost the unsettled span, never the backlog. Writer thread only.
 */
final class PgGroups implements AutoCloseable {
    /**
     * A group as stored: mode, configuration, cursor, the highest sequence delivered (leased), its
     * counters of messages dead-lettered and redelivered, and the epoch of its latest claim (0: none).
     */
    record Group(GroupMode mode, GroupConfig config, long cursor, long delivered, long deadLettered,
                 long redelivered, long claim) {
    }

    private final Connection connection;
    private final PreparedStatement select;
    private final PreparedStatement insert;
    private final PreparedStatement configure;
    private final PreparedStatement delivered;
    private final PreparedStatement rows;
    private final PreparedStatement upsertRow;
    private final PreparedStatement deadLettered;
    private final PreparedStatement messagesBetween;
    private final PreparedStatement prune;
    private final PreparedStatement dropGroup;
    private final PreparedStatement dropTopic;
    private final PreparedStatement atTime;
    private final PreparedStatement claim;

    PgGroups(Connection c) throws SQLException {
        connection = c;
        // FOR UPDATE: a group's delivery state is decided by one transaction at a time, whichever broker runs it.
        select = c.prepareStatement("SELECT mode, ack_wait_ms, max_deliveries, dlq_topic, max_in_flight, backoff_ms, "
                + "cursor_seq, delivered_seq, dead_lettered, redelivered, claim_epoch FROM consumer_groups "
                + "WHERE topic_id = ? AND name = ? FOR UPDATE");
        insert = c.prepareStatement("INSERT INTO consumer_groups (topic_id, name, cursor_seq, delivered_seq, "
                + "created_at, last_ack_at, mode, ack_wait_ms, max_deliveries, dlq_topic, max_in_flight, backoff_ms) "
                + "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)");
        configure = c.prepareStatement("UPDATE consumer_groups SET ack_wait_ms = ?, max_deliveries = ?, "
                + "dlq_topic = ?, max_in_flight = ?, backoff_ms = ? WHERE topic_id = ? AND name = ?");
        delivered = c.prepareStatement("UPDATE consumer_groups SET delivered_seq = greatest(delivered_seq, ?), "
                + "redelivered = redelivered + ? WHERE topic_id = ? AND name = ?");
        rows = c.prepareStatement("SELECT seq, deliveries, dead FROM group_deliveries "
                + "WHERE topic_id = ? AND grp = ? AND seq BETWEEN ? AND ?");
        upsertRow = c.prepareStatement("INSERT INTO group_deliveries (topic_id, grp, seq, deliveries, dead) "
                + "VALUES (?, ?, ?, ?, ?) ON CONFLICT (topic_id, grp, seq) DO UPDATE "
                + "SET deliveries = excluded.deliveries, dead = excluded.dead");
        deadLettered = c.prepareStatement("UPDATE consumer_groups SET dead_lettered = dead_lettered + 1 "
                + "WHERE topic_id = ? AND name = ?");
        messagesBetween = c.prepareStatement(
                "SELECT 1 FROM messages WHERE topic_id = ? AND seq > ? AND seq < ? LIMIT 1");
        prune = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ? AND grp = ? AND seq <= ?");
        dropGroup = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ? AND grp = ?");
        dropTopic = c.prepareStatement("DELETE FROM group_deliveries WHERE topic_id = ?");
        atTime = c.prepareStatement(PgTimeSeek.FIRST_AT_OR_AFTER);
        // The epoch is taken with the group's row locked: a later claim of the group has a larger one.
        claim = c.prepareStatement("UPDATE consumer_groups SET claim_epoch = nextval('sluice_epochs') "
                + "WHERE topic_id = ? AND name = ? RETURNING claim_epoch, cursor_seq, reset_epoch");
    }

    /** The group as stored, locked until the transaction ends; null when it does not exist. */
    Group find(long topicId, String group) throws SQLException {
        select.setLong(1, topicId);
        select.setString(2, group);
        try (ResultSet rs = select.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            var backoff = new ArrayList<Long>();
            Array array = rs.getArray(6);
            for (Long ms : (Long[]) array.getArray()) {
                backoff.add(ms);
            }
            var config = new GroupConfig(rs.getLong(2), rs.getLong(3), rs.getString(4), rs.getLong(5), backoff);
            return new Group(GroupMode.valueOf(rs.getString(1)), config, rs.getLong(7),
                    Math.max(rs.getLong(7), rs.getLong(8)), rs.getLong(9), rs.getLong(10), rs.getLong(11));
        }
    }

    void create(long topicId, String group, GroupMode mode, GroupConfig config, long cursor, long now)
            throws SQLException {
        insert.setLong(1, topicId);
        insert.setString(2, group);
        insert.setLong(3, cursor);
        insert.setLong(4, cursor);
        insert.setLong(5, now);
        insert.setString(6, mode.name());
        insert.setLong(7, config.ackWaitMs());
        insert.setLong(8, config.maxDeliveries());
        insert.setString(9, config.deadLetterTopic());
        insert.setLong(10, config.maxInFlight());
        insert.setArray(11, backoff(config));
        insert.executeUpdate();
    }

    void configure(long topicId, String group, GroupConfig config) throws SQLException {
        configure.setLong(1, config.ackWaitMs());
        configure.setLong(2, config.maxDeliveries());
        configure.setString(3, config.deadLetterTopic());
        configure.setLong(4, config.maxInFlight());
        configure.setArray(5, backoff(config));
        configure.setLong(6, topicId);
        configure.setString(7, group);
        configure.executeUpdate();
    }

    private Array backoff(GroupConfig config) throws SQLException {
        return connection.createArrayOf("bigint", config.backoffMs().toArray());
    }

    /**
     * Exclusive: the stored rows of messages {@code from}..{@code to} (delivered more than once, or
     * settled without an ack), by sequence: {deliveries, 1 when dead-lettered or terminated else 0}.
     */
    Map<Long, int[]> counts(long topicId, String group, long from, long to) throws SQLException {
        var out = new HashMap<Long, int[]>();
        rows.setLong(1, topicId);
        rows.setString(2, group);
        rows.setLong(3, from);
        rows.setLong(4, to);
        try (ResultSet rs = rows.executeQuery()) {
            while (rs.next()) {
                out.put(rs.getLong(1), new int[] {rs.getInt(2), rs.getBoolean(3) ? 1 : 0});
            }
        }
        return out;
    }

    /** Exclusive: writes one message's row at once (rare: a dead letter or a termination). */
    void writeRow(long topicId, String group, long seq, int deliveries, boolean dead) throws SQLException {
        upsertRow.setLong(1, topicId);
        upsertRow.setString(2, group);
        upsertRow.setLong(3, seq);
        upsertRow.setInt(4, deliveries);
        upsertRow.setBoolean(5, dead);
        upsertRow.executeUpdate();
    }

    /** Counts one more message dead-lettered (or terminated) by the group. */
    void countDeadLetter(long topicId, String group) throws SQLException {
        deadLettered.setLong(1, topicId);
        deadLettered.setString(2, group);
        deadLettered.executeUpdate();
    }

    /** True when the topic holds a message strictly between two sequences. */
    boolean anyBetween(long topicId, long after, long before) throws SQLException {
        messagesBetween.setLong(1, topicId);
        messagesBetween.setLong(2, after);
        messagesBetween.setLong(3, before);
        try (ResultSet rs = messagesBetween.executeQuery()) {
            return rs.next();
        }
    }

    /** Stores the counts of redeliveries (batched) and moves the delivered mark up to {@code highest}. */
    void recordDeliveries(long topicId, String group, Map<Long, Integer> redeliveries, long highest)
            throws SQLException {
        for (var e : redeliveries.entrySet()) {
            upsertRow.setLong(1, topicId);
            upsertRow.setString(2, group);
            upsertRow.setLong(3, e.getKey());
            upsertRow.setInt(4, e.getValue());
            upsertRow.setBoolean(5, false);
            upsertRow.addBatch();
        }
        if (!redeliveries.isEmpty()) {
            upsertRow.executeBatch();
        }
        delivered.setLong(1, highest);
        delivered.setLong(2, redeliveries.size());
        delivered.setLong(3, topicId);
        delivered.setString(4, group);
        delivered.executeUpdate();
    }

    /** Forgets the counts at or below the group's new cursor. */
    void prune(long topicId, String group, long cursor) throws SQLException {
        prune.setLong(1, topicId);
        prune.setString(2, group);
        prune.setLong(3, cursor);
        prune.executeUpdate();
    }

    /** Forgets every count of the group (deleted, or its cursor set anew). */
    void dropGroup(long topicId, String group) throws SQLException {
        dropGroup.setLong(1, topicId);
        dropGroup.setString(2, group);
        dropGroup.executeUpdate();
    }

    void dropTopic(long topicId) throws SQLException {
        dropTopic.setLong(1, topicId);
        dropTopic.executeUpdate();
    }

    /** The cursor before the topic's first message stamped at or after {@code millis}; {@code last} when none. */
    long cursorAtTime(long topicId, long millis, long last) throws SQLException {
        long first = PgTimeSeek.firstAtOrAfter(atTime, topicId, last, millis);
        return first < 0 ? last : first - 1;
    }

    /**
     * Exclusive: a new claim of the group, {epoch, cursor, reset epoch}: the epoch is larger than every
     * earlier claim's, the cursor is the one in force at the claim (later writes of older claims are
     * refused), and the reset epoch is that of the group's latest reset.
     */
    long[] claim(long topicId, String group) throws SQLException {
        claim.setLong(1, topicId);
        claim.setString(2, group);
        try (ResultSet rs = claim.executeQuery()) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2), rs.getLong(3)};
        }
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(select, insert, configure, delivered, rows, upsertRow, deadLettered, messagesBetween,
                prune, dropGroup, dropTopic, atTime, claim)) {
            st.close();
        }
    }
}
