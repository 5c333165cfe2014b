package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupPosition;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Store;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The writes of consumer groups beyond cursors: opening a group with its mode and configuration,
 * counting an exclusive group's deliveries (dead-lettering exhausted messages), and terminating a
 * message (Term). A shared group's leases are {@link PgSharedOps}. Writer thread only.
 */
final class PgGroupOps {
    private PgGroupOps() {
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
            SluiceException tooMany = tx.tooManyTopics(request.topic());
            if (tooMany != null) {
                return refuse(tooMany);
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
                return claimed(tx, row, new GroupSetup(false, g.mode(), config, position));
            }
            SluiceException full = tx.tooManyGroups(row);
            if (full != null) {
                return refuse(full);
            }
            long cursor = request.start().cursor(row.lastSeq,
                    millis -> cursorAtTime(tx, row, millis));
            tx.groups.create(row.id, request.group(), request.mode(), request.config(), cursor, tx.now);
            return claimed(tx, row, new GroupSetup(true, request.mode(), request.config(),
                    new GroupPosition(cursor, cursor)));
        }

        /**
         * With a claim asked for an exclusive group: the group's new claim, announced to other brokers at
         * the commit, and its cursor as of the claim (no older claim's ack moves it after this).
         */
        private GroupSetup claimed(PgWriteTx tx, PgWriteTx.TopicState row, GroupSetup setup) throws SQLException {
            if (!request.claim() || setup.mode() != GroupMode.EXCLUSIVE) {
                return setup;
            }
            long[] claim = tx.groups.claim(row.id, request.group());
            tx.events.claimed(row.name, request.group(), claim[0]);
            tx.resetFences.granted(row.name, request.group(), claim[0], claim[2]);
            var position = new GroupPosition(claim[1], Math.max(claim[1], setup.position().delivered()));
            return new GroupSetup(setup.created(), setup.mode(), setup.config(), position, claim[0]);
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

    /**
     * A message after an exclusive group's cursor was settled without an ack (dead-lettered or
     * terminated): when nothing of the topic lies between the cursor and it, the cursor moves to it,
     * so it does not hold the group's pending count. Answers the cursor.
     */
    private static long passSettled(PgWriteTx tx, PgWriteTx.TopicState row, String group, long cursor, long seq)
            throws SQLException {
        if (tx.groups.anyBetween(row.id, cursor, seq)) {
            return cursor;
        }
        tx.ack(row, group, seq, Store.NO_CLAIM, PgResetFences.NONE);
        return seq;
    }

    /**
     * Counts deliveries to an exclusive group, durable before the answer; exhausted ones are dead-lettered
     * (0). Under a claim older than the group's, counts nothing and fails with {@code TakenOver}.
     */
    static final class CountDeliveries extends PgWriteOp<DeliveryCounts> {
        private final String topic;
        private final String group;
        private final long claim;
        private final List<Long> sequences;

        CountDeliveries(String topic, String group, long claim, List<Long> sequences,
                        Completion<DeliveryCounts> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.claim = claim;
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
            if (claim != Store.NO_CLAIM && g.claim() > claim) {
                return refuse(new SluiceException.TakenOver("consumer group " + group + " of topic " + topic
                        + " was taken over by a newer stream"));
            }
            long delivered = g.delivered();
            long cursor = g.cursor();
            long first = sequences.getFirst();
            Map<Long, int[]> stored = first <= delivered
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
                int[] kept = stored.get(seq);
                if (kept != null && kept[1] != 0) {
                    continue;   // terminated or dead-lettered before: count 0, never delivered again
                }
                int before = kept == null ? 1 : kept[0];
                if (g.config().exhausted(before)) {
                    PgDeadLetters.move(tx, row, group, g.config(), seq, before, PgDeadLetters.MAX_DELIVERIES, "");
                    tx.groups.writeRow(row.id, group, seq, before, true);
                    cursor = passSettled(tx, row, group, cursor, seq);
                    continue;
                }
                counts[i] = before + 1;
                redeliveries.put(seq, before + 1);
            }
            tx.groups.recordDeliveries(row.id, group, redeliveries, highest);
            return new DeliveryCounts(counts);
        }
    }

    /**
     * Terminates a delivered message (Term): in a shared group the holder's action on its lease; in an
     * exclusive group any delivered, unacknowledged message, dead-lettered (or only counted) and never
     * delivered again.
     */
    static final class Terminate extends PgWriteOp<Boolean> {
        private final String topic;
        private final String group;
        private final String holder;
        private final long claim;
        private final long sequence;
        private final String detail;

        /** {@code claim}: in an exclusive group, the claim of the stream (a newer one refuses the Term). */
        Terminate(String topic, String group, String holder, long claim, long sequence, String detail,
                  Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.holder = holder;
            this.claim = claim;
            this.sequence = sequence;
            this.detail = detail;
        }

        @Override
        Boolean apply(PgWriteTx tx) throws SQLException {
            var row = tx.find(topic);
            GroupPosition position = row == null ? null : tx.position(row, group);   // writes the acks before it
            PgGroups.Group g = position == null ? null : tx.groups.find(row.id, group);
            if (g == null) {
                return refuse(new SluiceException.NotFound("consumer group " + group + " of topic " + topic
                        + " does not exist"));
            }
            if (g.mode() == GroupMode.SHARED) {
                var onLease = new PgSharedOps.OnLease(topic, group, holder == null ? "" : holder, sequence,
                        PgSharedOps.Action.TERMINATE, 0, detail, Completion.none());
                return onLease.apply(tx);
            }
            if (claim != Store.NO_CLAIM && g.claim() > claim) {
                return refuse(new SluiceException.TakenOver("consumer group " + group + " of topic " + topic
                        + " was taken over by a newer stream"));
            }
            if (sequence <= g.cursor() || sequence > g.delivered()) {
                return false;   // acknowledged already, or never delivered
            }
            int[] kept = tx.groups.counts(row.id, group, sequence, sequence).get(sequence);
            if (kept != null && kept[1] != 0) {
                return false;
            }
            int deliveries = kept == null ? 1 : kept[0];
            PgDeadLetters.move(tx, row, group, g.config(), sequence, deliveries, PgDeadLetters.REJECTED, detail);
            tx.groups.writeRow(row.id, group, sequence, deliveries, true);
            passSettled(tx, row, group, g.cursor(), sequence);
            return true;
        }
    }
}
