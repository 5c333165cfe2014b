package io.sluice.store.postgres;

import io.sluice.store.GroupPosition;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * The writer's statements on consumer groups' cursors ({@code consumer_groups}): positions, cumulative
 * acks (the cursor only moves forward), resets, removal. {@link PgWriteTx} decides when each runs.
 * Writer thread only.
 */
final class PgCursors implements AutoCloseable {
    private final PreparedStatement select;
    private final PreparedStatement count;
    private final PreparedStatement ackTo;
    private final PreparedStatement set;
    private final PreparedStatement delete;
    private final PreparedStatement deleteOfTopic;

    PgCursors(Connection c) throws SQLException {
        select = c.prepareStatement(
                "SELECT cursor_seq, delivered_seq FROM consumer_groups WHERE topic_id = ? AND name = ?");
        count = c.prepareStatement("SELECT count(*) FROM consumer_groups WHERE topic_id = ?");
        // An ack under a claim older than the group's, or made before its stream was told of the group's
        // latest reset (its fence is older: PgResetFences), leaves the row alone (no row is answered).
        ackTo = c.prepareStatement("""
                INSERT INTO consumer_groups (topic_id, name, cursor_seq, created_at, last_ack_at, claim_epoch)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (topic_id, name) DO UPDATE
                SET cursor_seq = greatest(consumer_groups.cursor_seq, excluded.cursor_seq),
                    last_ack_at = excluded.last_ack_at,
                    claim_epoch = greatest(consumer_groups.claim_epoch, excluded.claim_epoch)
                WHERE excluded.claim_epoch = 0
                   OR (consumer_groups.claim_epoch <= excluded.claim_epoch AND consumer_groups.reset_epoch <= ?)""");
        set = c.prepareStatement("""
                INSERT INTO consumer_groups (topic_id, name, cursor_seq, delivered_seq, created_at, last_ack_at,
                                             reset_epoch)
                VALUES (?, ?, ?, ?, ?, 0, nextval('sluice_epochs'))
                ON CONFLICT (topic_id, name) DO UPDATE
                SET cursor_seq = excluded.cursor_seq, delivered_seq = excluded.cursor_seq,
                    reset_epoch = excluded.reset_epoch
                RETURNING reset_epoch""");
        delete = c.prepareStatement("DELETE FROM consumer_groups WHERE topic_id = ? AND name = ?");
        deleteOfTopic = c.prepareStatement("DELETE FROM consumer_groups WHERE topic_id = ?");
    }

    /** The group's persisted position, or null when it does not exist. */
    GroupPosition position(long topicId, String group) throws SQLException {
        select.setLong(1, topicId);
        select.setString(2, group);
        try (ResultSet rs = select.executeQuery()) {
            return rs.next() ? new GroupPosition(rs.getLong(1), rs.getLong(2)) : null;
        }
    }

    /** How many groups the topic has. */
    long count(long topicId) throws SQLException {
        count.setLong(1, topicId);
        try (ResultSet rs = count.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Moves the group's cursor forward to {@code seq} (never back), creating the group when absent;
     * under a claim ({@code claim} not 0) only while no newer claim holds the group and its latest reset
     * is not newer than {@code fence} ({@link PgResetFences}). False when the cursor was left alone
     * because of either.
     */
    boolean ackTo(long topicId, String group, long seq, long claim, long fence, long now) throws SQLException {
        ackTo.setLong(1, topicId);
        ackTo.setString(2, group);
        ackTo.setLong(3, seq);
        ackTo.setLong(4, now);
        ackTo.setLong(5, now);
        ackTo.setLong(6, claim);
        ackTo.setLong(7, fence);
        return ackTo.executeUpdate() > 0;
    }

    /**
     * Sets the group's cursor and delivered mark to {@code cursor}, creating the group when absent;
     * answers the reset's epoch (other brokers' polls compare it with the last they saw).
     */
    long set(long topicId, String group, long cursor, long now) throws SQLException {
        set.setLong(1, topicId);
        set.setString(2, group);
        set.setLong(3, cursor);
        set.setLong(4, cursor);
        set.setLong(5, now);
        try (ResultSet rs = set.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Removes the group; true when it existed. */
    boolean delete(long topicId, String group) throws SQLException {
        delete.setLong(1, topicId);
        delete.setString(2, group);
        return delete.executeUpdate() > 0;
    }

    /** Removes every group of the topic. */
    void deleteOfTopic(long topicId) throws SQLException {
        deleteOfTopic.setLong(1, topicId);
        deleteOfTopic.executeUpdate();
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(select, count, ackTo, set, delete, deleteOfTopic)) {
            st.close();
        }
    }
}
