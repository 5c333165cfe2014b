package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.GroupMode;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * The delivery-state writes of exclusive groups: counting deliveries before they are sent, and
 * terminating a message (also for shared groups, where it is the holder's action). An exclusive
 * group stores a row only for a message delivered more than once or terminated, and only while it
 * lies after the cursor: the first delivery is recorded by the group's delivered mark. Writer thread only.
 */
final class ExclusiveWrites {
    private ExclusiveWrites() {
    }

    /**
     * A message after the cursor was settled without an ack (dead-lettered or terminated): when
     * nothing of the topic lies between the cursor and it, the cursor moves to it, so it does not
     * hold the group's pending count (a later cumulative ack passes it anyway).
     */
    private static void passSettled(WriteTx tx, GroupTable.Group g, long seq) throws SQLException {
        var between = tx.groups.messagesBetween;
        between.setLong(1, g.topic.id);
        between.setLong(2, g.cursor);
        between.setLong(3, seq);
        try (ResultSet rs = between.executeQuery()) {
            if (rs.next()) {
                return;
            }
        }
        tx.ack(g.topic, g.name, seq);
    }

    /** Counts deliveries to an exclusive group; dead-letters exhausted messages instead (count 0). */
    static final class CountDeliveries extends WriteOp.GroupWrite<DeliveryCounts> {
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
        boolean commutesWithPendingWrites() {
            return false;   // the acks before it are written first: its cursor is current
        }

        @Override
        DeliveryCounts apply(WriteTx tx) throws SQLException {
            int[] counts = new int[sequences.size()];
            TopicRow row = tx.find(topic);
            GroupTable.Group g = row == null ? null : tx.groups.find(row, group, tx.now);
            if (g == null) {
                java.util.Arrays.fill(counts, 1);   // deleted meanwhile: the stream ends or recreates it
                return new DeliveryCounts(counts);
            }
            if (g.mode != GroupMode.EXCLUSIVE) {
                return refuse(GroupWrites.wrongMode(topic, group, g.mode, GroupMode.EXCLUSIVE));
            }
            long first = sequences.getFirst();
            Map<Long, int[]> rows = first <= g.delivered
                    ? tx.groups.rows(g, first, Math.min(sequences.getLast(), g.delivered)) : Map.of();
            for (int i = 0; i < counts.length; i++) {
                long seq = sequences.get(i);
                if (seq > g.delivered) {
                    counts[i] = 1;
                    g.delivered = seq;
                    tx.groups.touch(g);
                    continue;
                }
                int[] stored = rows.get(seq);
                if (stored != null && stored[1] != 0) {
                    counts[i] = 0;   // terminated or dead-lettered before
                    continue;
                }
                int before = stored == null ? 1 : stored[0];
                if (g.config.exhausted(before)) {
                    DeadLetters.move(tx, g, seq, before, DeadLetters.MAX_DELIVERIES, "");
                    tx.groups.writeRow(g, seq, before, true);
                    passSettled(tx, g, seq);
                    counts[i] = 0;
                    continue;
                }
                counts[i] = before + 1;
                tx.groups.writeRow(g, seq, before + 1, false);
                g.redelivered++;
                tx.groups.touch(g);
            }
            return new DeliveryCounts(counts);
        }
    }

    /** Terminates a delivered message (Term): dead-lettered when the group has a topic for it, settled either way. */
    static final class Terminate extends WriteOp.GroupWrite<Boolean> {
        private final String topic;
        private final String group;
        private final String holder;
        private final long sequence;
        private final String detail;

        Terminate(String topic, String group, String holder, long sequence, String detail, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.holder = holder;
            this.sequence = sequence;
            this.detail = detail;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return false;   // an ack queued before it may have settled the message already
        }

        @Override
        Boolean apply(WriteTx tx) throws SQLException {
            TopicRow row = tx.find(topic);
            GroupTable.Group g = row == null ? null : tx.groups.find(row, group, tx.now);
            if (g == null) {
                return refuse(new SluiceException.NotFound("consumer group " + group + " of topic " + topic
                        + " does not exist"));
            }
            if (g.shared()) {
                return new SharedWrites.OnLease(topic, group, holder == null ? "" : holder, sequence,
                        SharedWrites.Action.TERMINATE, 0, detail, Completion.none()).apply(tx);
            }
            if (sequence <= g.cursor || sequence > g.delivered) {
                return false;   // acknowledged already, or never delivered
            }
            int[] stored = tx.groups.rows(g, sequence, sequence).get(sequence);
            if (stored != null && stored[1] != 0) {
                return false;
            }
            int deliveries = stored == null ? 1 : stored[0];
            DeadLetters.move(tx, g, sequence, deliveries, DeadLetters.REJECTED, detail);
            tx.groups.writeRow(g, sequence, deliveries, true);
            passSettled(tx, g, sequence);
            return true;
        }
    }
}
