package io.sluice.store.sqlite;

import io.sluice.store.Completion;
import io.sluice.store.GroupMode;
import io.sluice.store.Lease;
import io.sluice.store.LeaseBatch;
import io.sluice.store.Settled;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The writes of a shared group's leases: lease, settle, release, extend, release all and terminate
 * (see {@link io.sluice.store.Store} for what each promises). Each decides on the group's entries as
 * the writer holds them ({@link GroupTable}) and its changes are written in the same transaction,
 * so a lease is durable before its holder hears of it. Writer thread only.
 */
final class SharedWrites {
    private SharedWrites() {
    }

    /** A lease ended unsettled: the message comes back after {@code delay}, or is dead-lettered when exhausted. */
    private static void giveBack(WriteTx tx, GroupTable.Group g, long seq, GroupTable.Entry e, long availableAt)
            throws SQLException {
        if (g.config.exhausted(e.deliveries)) {
            DeadLetters.move(tx, g, seq, e.deliveries, DeadLetters.MAX_DELIVERIES, "");
            g.entries.remove(seq);
            tx.groups.removed(g, seq, e);
        } else {
            e.holder = null;
            e.dueAt = availableAt;
            g.scanAt = Math.min(g.scanAt, availableAt);
            tx.groups.touch(g, seq);
            tx.waiting.dueAt(tx, g.topic.name, g.name, availableAt);
        }
    }

    /** Entries whose message retention removed are settled: nothing is left to deliver or dead-letter. */
    private static void settleRemoved(WriteTx tx, GroupTable.Group g) {
        while (!g.entries.isEmpty() && GroupTable.gone(g, g.entries.firstKey())) {
            var first = g.entries.pollFirstEntry();
            tx.groups.removed(g, first.getKey(), first.getValue());
        }
    }

    /**
     * Looks at a shared group no stream asks of (writer's background): its expired leases are given
     * back or dead-lettered, and entries whose message retention removed are settled.
     */
    static void sweep(WriteTx tx, GroupTable.Group g) throws SQLException {
        new LeaseOp(g.topic.name, g.name, "", 0, false, Completion.none()).onGroup(tx, g);
    }

    /**
     * A write of one holder of a shared group: it finds the group (which must be SHARED) in the
     * writer's table, then {@link #onGroup} decides.
     */
    abstract static class HolderWrite<T> extends WriteOp.GroupWrite<T> {
        final String topic;
        final String group;
        final String holder;

        HolderWrite(String topic, String group, String holder, Completion<T> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.holder = holder;
        }

        @Override
        final T apply(WriteTx tx) throws SQLException {
            GroupTable.Group g;
            try {
                g = GroupWrites.require(tx, topic, group, GroupMode.SHARED);
            } catch (io.sluice.domain.SluiceException e) {
                return withoutGroup(e);
            }
            return onGroup(tx, g);
        }

        /** The group or topic is not there, or not SHARED: by default the write is refused with {@code e}. */
        T withoutGroup(io.sluice.domain.SluiceException e) {
            return refuse(e);
        }

        abstract T onGroup(WriteTx tx, GroupTable.Group g) throws SQLException;
    }

    /**
     * Leases messages to a holder: due ones first, then new ones within max in flight. One that may
     * wait ({@code mayWait}) and finds the group full with nothing due waits in {@link WaitingLeases}
     * instead of answering empty.
     */
    static final class LeaseOp extends HolderWrite<LeaseBatch> {
        private final int max;
        private final boolean mayWait;
        long waitUntilNanos;  // while waiting: answered by then with what it finds
        long deadlineNanos;   // while waiting: looked at again by then (an expiry or backoff may be due)
        boolean withdrawn;    // its holder released all: answered with nothing

        LeaseOp(String topic, String group, String holder, int max, boolean mayWait, Completion<LeaseBatch> done) {
            super(topic, group, holder, done);
            this.max = max;
            this.mayWait = mayWait;
        }

        /** While waiting: true when running it again may lease something (or finds the group gone). */
        boolean mayGetSome(WriteTx tx) throws SQLException {
            TopicRow row = tx.find(topic);
            GroupTable.Group g = row == null ? null : tx.groups.find(row, group, tx.now);
            return g == null || !g.shared() || g.entries.size() < g.config.effectiveMaxInFlight()
                    || tx.now >= g.scanAt;
        }

        @Override
        LeaseBatch onGroup(WriteTx tx, GroupTable.Group g) throws SQLException {
            if (withdrawn) {
                return new LeaseBatch(List.of(), Long.MAX_VALUE, false);
            }
            settleRemoved(tx, g);
            tx.waiting.serve(tx, topic, group);   // requests waiting on the group go first
            long now = tx.now;
            long ackWait = g.config.effectiveAckWaitMs();
            var out = new ArrayList<Lease>();
            long nextDue;
            if (now < g.scanAt) {
                nextDue = g.scanAt;   // nothing can be due yet: no need to look at every unsettled message
            } else {
                nextDue = leaseDue(tx, g, out);
                g.scanAt = Math.min(nextDue, now + ackWait);
            }
            long room = g.config.effectiveMaxInFlight() - g.entries.size();
            int want = (int) Math.min(max - out.size(), room);
            if (want > 0 && g.delivered < tx.lastSequenceOf(g.topic)) {
                var next = tx.groups.nextMessages;
                next.setLong(1, g.topic.id);
                next.setLong(2, g.delivered);
                next.setInt(3, want);
                try (ResultSet rs = next.executeQuery()) {
                    while (rs.next()) {
                        long seq = rs.getLong(1);
                        g.entries.put(seq, new GroupTable.Entry(1, holder, tx.groups.epoch, now + ackWait));
                        g.delivered = seq;   // recorded by the group's row (no row of its own: see GroupTable)
                        out.add(new Lease(seq, 1));
                    }
                }
            }
            if (!out.isEmpty()) {
                tx.groups.touch(g);
                out.sort((a, b) -> Long.compare(a.sequence(), b.sequence()));
            }
            boolean full = g.entries.size() >= g.config.effectiveMaxInFlight();
            if (out.isEmpty() && full && mayWait && max > 0 && tx.waiting.park(tx, this, nextDue)) {
                return null;   // answered by a later transaction, see WaitingLeases
            }
            return new LeaseBatch(out, nextDue, full);
        }

        /**
         * Leases the entries that are due (a lease expired, a backoff ended) to the holder, in sequence
         * order, up to {@code max}; dead-letters the exhausted ones; answers when the next of the others
         * comes due ({@code Long.MAX_VALUE}: none).
         */
        private long leaseDue(WriteTx tx, GroupTable.Group g, List<Lease> out) throws SQLException {
            long now = tx.now;
            long ackWait = g.config.effectiveAckWaitMs();
            long nextDue = Long.MAX_VALUE;
            Iterator<Map.Entry<Long, GroupTable.Entry>> it = g.entries.entrySet().iterator();
            while (it.hasNext()) {
                var item = it.next();
                long seq = item.getKey();
                GroupTable.Entry e = item.getValue();
                if (e.holder != null) {
                    if (e.dueAt > now) {
                        nextDue = Math.min(nextDue, e.dueAt);
                        continue;
                    }
                    // The lease expired: back after its backoff, counted from the expiry, or dead-lettered.
                    if (g.config.exhausted(e.deliveries)) {
                        DeadLetters.move(tx, g, seq, e.deliveries, DeadLetters.MAX_DELIVERIES, "");
                        it.remove();
                        tx.groups.removed(g, seq, e);
                        continue;
                    }
                    e.holder = null;
                    e.dueAt = e.dueAt + g.config.backoffAfter(e.deliveries);
                    tx.groups.touch(g, seq);
                }
                if (e.dueAt > now || out.size() >= max) {
                    nextDue = Math.min(nextDue, e.dueAt);
                    continue;
                }
                if (g.config.exhausted(e.deliveries)) {
                    // Released by a stream of an earlier run, or the limit was lowered since: no more deliveries.
                    DeadLetters.move(tx, g, seq, e.deliveries, DeadLetters.MAX_DELIVERIES, "");
                    it.remove();
                    tx.groups.removed(g, seq, e);
                    continue;
                }
                e.deliveries++;
                e.holder = holder;
                e.epoch = tx.groups.epoch;
                e.dueAt = now + ackWait;
                g.redelivered++;
                tx.groups.touch(g, seq);
                out.add(new Lease(seq, e.deliveries));
            }
            return nextDue;
        }
    }

    /** Settles exactly the named messages the holder holds (Ack, BatchAck). */
    static final class Settle extends HolderWrite<Settled> {
        private final List<Long> sequences;

        Settle(String topic, String group, String holder, List<Long> sequences, Completion<Settled> done) {
            super(topic, group, holder, done);
            this.sequences = sequences;
        }

        @Override
        Settled onGroup(WriteTx tx, GroupTable.Group g) throws SQLException {
            int settled = 0;
            int notHeld = 0;
            int unknown = 0;
            for (long seq : sequences) {
                GroupTable.Entry e = g.entries.get(seq);
                if (e == null) {
                    unknown++;
                } else if (!e.heldBy(holder, tx.now)) {
                    notHeld++;
                } else {
                    g.entries.remove(seq);
                    tx.groups.removed(g, seq, e);
                    settled++;
                }
            }
            if (settled > 0) {
                g.lastAckAt = tx.now;
            }
            return new Settled(settled, notHeld, unknown);
        }
    }

    /** What a holder does to one message it holds: Nack (release), InProgress (extend) or Term (terminate). */
    enum Action { RELEASE, EXTEND, TERMINATE }

    /** One holder's action on one message; answers false when the holder does not hold it. */
    static final class OnLease extends HolderWrite<Boolean> {
        private final long sequence;
        private final Action action;
        private final long delayMs;
        private final String detail;

        OnLease(String topic, String group, String holder, long sequence, Action action, long delayMs, String detail,
                Completion<Boolean> done) {
            super(topic, group, holder, done);
            this.sequence = sequence;
            this.action = action;
            this.delayMs = delayMs;
            this.detail = detail;
        }

        @Override
        Boolean onGroup(WriteTx tx, GroupTable.Group g) throws SQLException {
            GroupTable.Entry e = g.entries.get(sequence);
            if (e == null || !e.heldBy(holder, tx.now)) {
                return false;
            }
            switch (action) {
                case RELEASE -> giveBack(tx, g, sequence, e,
                        tx.now + (delayMs > 0 ? delayMs : g.config.backoffAfter(e.deliveries)));
                case EXTEND -> {
                    e.dueAt = tx.now + g.config.effectiveAckWaitMs();
                    tx.groups.touch(g, sequence);
                }
                case TERMINATE -> {
                    DeadLetters.move(tx, g, sequence, e.deliveries, DeadLetters.REJECTED, detail);
                    g.entries.remove(sequence);
                    tx.groups.removed(g, sequence, e);
                }
            }
            return true;
        }
    }

    /** The holder's stream ended: every lease it holds is given back (after its backoff) or dead-lettered. */
    static final class ReleaseAll extends HolderWrite<Integer> {

        ReleaseAll(String topic, String group, String holder, Completion<Integer> done) {
            super(topic, group, holder, done);
        }

        @Override
        Integer withoutGroup(io.sluice.domain.SluiceException e) {
            return 0;   // the group or topic is gone: nothing is held any more
        }

        @Override
        Integer onGroup(WriteTx tx, GroupTable.Group g) throws SQLException {
            tx.waiting.withdraw(tx, topic, group, holder);
            var held = new ArrayList<Long>();
            g.entries.forEach((seq, e) -> {
                if (e.heldBy(holder, tx.now)) {   // an expired one comes back after its backoff from the expiry
                    held.add(seq);
                }
            });
            for (long seq : held) {
                GroupTable.Entry e = g.entries.get(seq);
                giveBack(tx, g, seq, e, tx.now + g.config.backoffAfter(e.deliveries));
            }
            return held.size();
        }
    }
}
