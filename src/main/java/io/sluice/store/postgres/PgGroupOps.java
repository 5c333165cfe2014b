package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupPosition;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The writes of consumer groups beyond cursors: opening a group with its mode and configuration,
 * and counting an exclusive group's deliveries. Shared groups and dead letters are not available on
 * this backend yet: requests for them are refused naming what is missing. Writer thread only.
 */
final class PgGroupOps {
    private PgGroupOps() {
    }

    static final String NO_SHARED = "shared consumer groups are not available on the PostgreSQL backend yet";
    static final String NO_DEAD_LETTERS = "dead letters (max_deliveries, dead_letter_topic) are not available on "
            + "the PostgreSQL backend yet";

    static final String NO_TERMINATE = "terminating a message (Term) is not available on the PostgreSQL backend "
            + "yet";

    /** A request this backend cannot do yet: refused on the writer thread, naming what is missing. */
    static final class Refused<T> extends PgWriteOp<T> {
        private final String why;

        Refused(String why, Completion<T> done) {
            super(done);
            this.why = why;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }

        @Override
        T apply(PgWriteTx tx) {
            return refuse(new SluiceException.FailedPrecondition(why));
        }
    }

    static SluiceException wrongMode(String topic, String group, GroupMode is, GroupMode asked) {
        return new SluiceException.FailedPrecondition("consumer group " + group + " of topic " + topic + " is "
                + wireName(is) + "; it cannot be used as " + wireName(asked)
                + " (a group's mode is fixed when it is created; use another group name)");
    }

    private static String wireName(GroupMode mode) {
        return mode == GroupMode.SHARED ? "SHARED" : "CONSUMER_GROUP";
    }

    /** Opens or configures a group (see {@link io.sluice.store.Store#openGroup(GroupRequest, Completion)}). */
    static final class Open extends PgWriteOp<GroupSetup> {
        private final GroupRequest request;

        Open(GroupRequest request, Completion<GroupSetup> done) {
            super(done);
            this.request = request;
        }

        @Override
        GroupSetup apply(PgWriteTx tx) throws SQLException {
            if (request.mode() == GroupMode.SHARED) {
                return refuse(new SluiceException.FailedPrecondition(NO_SHARED));
            }
            if (request.config().maxDeliveries() > 0 || request.config().hasDeadLetterTopic()) {
                return refuse(new SluiceException.FailedPrecondition(NO_DEAD_LETTERS));
            }
            var row = tx.findOrCreate(request.topic());
            GroupPosition position = tx.position(row, request.group());   // writes the acks batched before it
            if (position != null) {
                PgGroups.Group g = tx.groups.find(row.id, request.group());
                if (g.mode() != request.mode()) {
                    return refuse(wrongMode(request.topic(), request.group(), g.mode(), request.mode()));
                }
                var config = g.config();
                if (request.replace()) {
                    tx.groups.configure(row.id, request.group(), request.config());
                    config = request.config();
                }
                return new GroupSetup(false, g.mode(), config, position);
            }
            SluiceException full = tx.tooManyGroups(row);
            if (full != null) {
                return refuse(full);
            }
            long cursor = request.start().cursor(row.lastSeq,
                    millis -> cursorAtTime(tx, row, millis));
            tx.groups.create(row.id, request.group(), request.mode(), request.config(), cursor, tx.now);
            return new GroupSetup(true, request.mode(), request.config(), new GroupPosition(cursor, cursor));
        }

        private static long cursorAtTime(PgWriteTx tx, PgWriteTx.TopicState row, long millis) {
            try {
                return tx.groups.cursorAtTime(row.id, millis, row.lastSeq);
            } catch (SQLException e) {
                throw new SluiceException.StorageFailure("finding the time " + millis + " in topic " + row.name
                        + ": " + PgErrors.describe(e), e);
            }
        }
    }

    /** Counts deliveries to an exclusive group, durable before the answer. */
    static final class CountDeliveries extends PgWriteOp<DeliveryCounts> {
        private final String topic;
        private final String group;
        private final List<Long> sequences;

        CountDeliveries(String topic, String group, List<Long> sequences, Completion<DeliveryCounts> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.sequences = sequences;
        }

        @Override
        DeliveryCounts apply(PgWriteTx tx) throws SQLException {
            int[] counts = new int[sequences.size()];
            var row = tx.find(topic);
            GroupPosition position = row == null ? null : tx.position(row, group);
            if (position == null || sequences.isEmpty()) {
                Arrays.fill(counts, 1);   // deleted meanwhile: the stream ends or recreates it
                return new DeliveryCounts(counts);
            }
            PgGroups.Group g = tx.groups.find(row.id, group);
            if (g.mode() != GroupMode.EXCLUSIVE) {
                return refuse(wrongMode(topic, group, g.mode(), GroupMode.EXCLUSIVE));
            }
            long delivered = g.delivered();
            long first = sequences.getFirst();
            Map<Long, Integer> stored = first <= delivered
                    ? tx.groups.counts(row.id, group, first, Math.min(sequences.getLast(), delivered)) : Map.of();
            var redeliveries = new LinkedHashMap<Long, Integer>();
            long highest = delivered;
            for (int i = 0; i < counts.length; i++) {
                long seq = sequences.get(i);
                if (seq > highest) {
                    counts[i] = 1;
                    highest = seq;
                    continue;
                }
                int count = stored.getOrDefault(seq, 1) + 1;
                counts[i] = count;
                redeliveries.put(seq, count);
            }
            tx.groups.recordDeliveries(row.id, group, redeliveries, highest);
            return new DeliveryCounts(counts);
        }
    }
}
