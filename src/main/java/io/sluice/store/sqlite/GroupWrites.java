package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupPosition;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * The writes that open and configure consumer groups, and the shared helpers of the delivery-state
 * writes ({@link SharedWrites}, {@link ExclusiveWrites}). Everything here runs on the writer thread
 * inside its transaction.
 */
final class GroupWrites {
    private GroupWrites() {
    }

    /** The group, or the failure that refuses the request: NotFound when absent, FailedPrecondition for the other mode. */
    static GroupTable.Group require(WriteTx tx, String topic, String group, GroupMode mode) throws SQLException {
        TopicRow row = tx.find(topic);
        GroupTable.Group g = row == null ? null : tx.groups.find(row, group, tx.now);
        if (g == null) {
            throw new SluiceException.NotFound("consumer group " + group + " of topic " + topic + " does not exist");
        }
        if (g.mode != mode) {
            throw wrongMode(topic, group, g.mode, mode);
        }
        return g;
    }

    static SluiceException wrongMode(String topic, String group, GroupMode is, GroupMode asked) {
        return new SluiceException.FailedPrecondition("consumer group " + group + " of topic " + topic + " is "
                + wireName(is) + "; it cannot be used as " + wireName(asked)
                + " (a group's mode is fixed when it is created; use another group name)");
    }

    static String wireName(GroupMode mode) {
        return mode == GroupMode.SHARED ? "SHARED" : "CONSUMER_GROUP";
    }

    /**
     * Opens or configures a group (see {@link io.sluice.store.Store#openGroup(GroupRequest, Completion)}).
     * Sees the acks batched before it written first, so an exclusive group's cursor is current.
     */
    static final class Open extends WriteOp.GroupWrite<GroupSetup> {
        private final GroupRequest request;

        Open(GroupRequest request, Completion<GroupSetup> done) {
            super(done);
            this.request = request;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return false;
        }

        @Override
        GroupSetup apply(WriteTx tx) throws SQLException {
            SluiceException tooMany = tx.tooManyTopics(request.topic());
            if (tooMany != null) {
                return refuse(tooMany);
            }
            TopicRow row = tx.findOrCreate(request.topic());
            GroupTable.Group g = tx.groups.find(row, request.group(), tx.now);
            if (g != null) {
                if (g.mode != request.mode()) {
                    return refuse(wrongMode(request.topic(), request.group(), g.mode, request.mode()));
                }
                if (request.replace()) {
                    tx.groups.configure(g, request.config());
                }
                long cursor = g.shared() ? g.sharedCursor() : persistedCursor(tx, row, g);
                return new GroupSetup(false, g.mode, g.config, new GroupPosition(cursor, Math.max(g.delivered, cursor)));
            }
            SluiceException full = tx.tooManyGroups(row);
            if (full != null) {
                return refuse(full);
            }
            long cursor = request.start().cursor(tx.lastSequenceOf(row), millis -> tx.cursorAtTime(row, millis));
            g = tx.groups.create(row, request.group(), request.mode(), request.config(), cursor, tx.now);
            return new GroupSetup(true, g.mode, g.config, new GroupPosition(cursor, cursor));
        }

        /** An exclusive group's cursor as stored (acks move it without going through the group table). */
        private static long persistedCursor(WriteTx tx, TopicRow row, GroupTable.Group g) throws SQLException {
            var select = tx.selectCursor;
            select.setLong(1, row.id);
            select.setString(2, g.name);
            try (ResultSet rs = select.executeQuery()) {
                if (rs.next()) {
                    g.cursor = Math.max(g.cursor, rs.getLong(1));
                }
            }
            return g.cursor;
        }
    }
}
