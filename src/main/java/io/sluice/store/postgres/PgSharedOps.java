package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import io.sluice.store.Lease;
import io.sluice.store.LeaseBatch;
import io.sluice.store.Settled;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The writes of a shared group's leases: lease, settle, release, extend, release all and terminate
 * (see {@link io.sluice.store.Store} for what each promises). Each runs in the writer's transaction
 * and begins by locking the group's row ({@link PgGroups#find}, {@code SELECT ... FOR UPDATE}), so
 * the transactions of several brokers on one group run one after another and a message is never
 * leased to two holders; what it decides is written in the same transaction, so a lease is durable
 * before its holder hears of it. A lease granted by a store run that is gone ({@link PgLeases#liveRuns})
 * counts as released. Writer thread only.
 */
final class PgSharedOps {
    private PgSharedOps() {
    }

    /** A group locked by this transaction, with the topic it belongs to. */
    record Held(PgWriteTx.TopicState topic, String name, PgGroups.Group group) {
        long id() {
            return topic.id;
        }

        GroupConfig config() {
            return group.config();
        }
    }

    /** The group, locked: NotFound when absent, FailedPrecondition when it is of the other mode. */
    static Held require(PgWriteTx tx, String topic, String group, GroupMode mode) throws SQLException {
        var row = tx.find(topic);
        PgGroups.Group g = row == null ? null : tx.groups.find(row.id, group);
        if (g == null) {
            throw new SluiceException.NotFound("consumer group " + group + " of topic " + topic + " does not exist");
        }
        if (g.mode() != mode) {
            throw PgGroupOps.wrongMode(topic, group, g.mode(), mode);
        }
        return new Held(row, group, g);
    }

    private static void deadLetter(PgWriteTx tx, Held h, PgLeases.Entry e, String reason, String detail)
            throws SQLException {
        tx.leases.remove(h.id(), h.name(), e.seq());
        PgDeadLetters.move(tx, h.topic(), h.name(), h.config(), e.seq(), e.deliveries(), reason, detail);
    }

    /** A lease ended unsettled: the message is available again at {@code at}, or dead-lettered when exhausted. */
    private static void giveBack(PgWriteTx tx, Held h, PgLeases.Entry e, long at) throws SQLException {
        if (h.config().exhausted(e.deliveries())) {
            deadLetter(tx, h, e, PgDeadLetters.MAX_DELIVERIES, "");
        } else {
            tx.leases.put(h.id(), h.name(), e.availableAt(at));
        }
    }

    /**
     * Looks at a shared group no stream may be asking of (the writer's background): its expired leases
     * are given back after their backoff or dead-lettered, as a lease request of nothing would; its
     * streams are told.
     */
    static void sweep(PgWriteTx tx, String topic, String group) throws SQLException {
        Held h;
        try {
            h = require(tx, topic, group, GroupMode.SHARED);
        } catch (SluiceException gone) {
            return;   // deleted or changed meanwhile
        }
        new LeaseOp(topic, group, "", 0, Completion.none()).onGroup(tx, h);
        tx.sharedChanged(topic, group);
    }

    /**
     * A write of one holder of a shared group: it finds and locks the group (which must be SHARED),
     * then {@link #onGroup} decides.
     */
    abstract static class HolderWrite<T> extends PgWriteOp<T> {
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
        final T apply(PgWriteTx tx) throws SQLException {
            Held h;
            try {
                h = require(tx, topic, group, GroupMode.SHARED);
            } catch (SluiceException e) {
                return withoutGroup(e);
            }
            return onGroup(tx, h);
        }

        /** The group or topic is not there, or not SHARED: by default the write is refused with {@code e}. */
        T withoutGroup(SluiceException e) {
            return refuse(e);
        }

        abstract T onGroup(PgWriteTx tx, Held h) throws SQLException;
    }

    /** Leases messages to a holder: due ones first, then new ones within max in flight. */
    static final class LeaseOp extends HolderWrite<LeaseBatch> {
        private final int max;

        LeaseOp(String topic, String group, String holder, int max, Completion<LeaseBatch> done) {
            super(topic, group, holder, done);
            this.max = max;
        }

        @Override
        LeaseBatch onGroup(PgWriteTx tx, Held h) throws SQLException {
            GroupConfig config = h.config();
            long now = tx.now;
            long until = now + config.effectiveAckWaitMs();
            var out = new ArrayList<Lease>();
            long redeliveries = 0;
            for (PgLeases.Entry e : tx.leases.actionable(h.id(), group, now, tx.leases.liveRuns(tx.epoch))) {
                if (e.holder() != null) {
                    // The lease expired (back after its backoff, counted from the expiry), or its store run is
                    // gone (back after its backoff from now, or at its expiry if sooner); or dead-lettered.
                    if (config.exhausted(e.deliveries())) {
                        deadLetter(tx, h, e, PgDeadLetters.MAX_DELIVERIES, "");
                        continue;
                    }
                    long backoff = config.backoffAfter(e.deliveries());
                    e = e.availableAt(e.dueAt() <= now ? e.dueAt() + backoff : Math.min(e.dueAt(), now + backoff));
                    if (e.dueAt() > now || out.size() >= max) {
                        tx.leases.put(h.id(), group, e);
                        continue;
                    }
                } else if (out.size() >= max) {
                    continue;
                }
                if (config.exhausted(e.deliveries())) {
                    // Released by a store run that is gone, or the limit was lowered since: no more deliveries.
                    deadLetter(tx, h, e, PgDeadLetters.MAX_DELIVERIES, "");
                    continue;
                }
                PgLeases.Entry leased = e.leasedTo(holder, tx.epoch, until);
                tx.leases.put(h.id(), group, leased);
                redeliveries++;
                out.add(new Lease(e.seq(), leased.deliveries()));
            }
            tx.leases.flush();
            long unsettled = tx.leases.unsettled(h.id(), group);
            long delivered = h.group().delivered();
            int want = (int) Math.min(max - out.size(), config.effectiveMaxInFlight() - unsettled);
            if (want > 0 && delivered < h.topic().lastSeq) {
                for (long seq : tx.leases.messagesAfter(h.id(), delivered, want)) {
                    tx.leases.put(h.id(), group, new PgLeases.Entry(seq, 1, holder, tx.epoch, until));
                    delivered = seq;
                    unsettled++;
                    out.add(new Lease(seq, 1));
                }
                tx.leases.flush();
            }
            tx.leases.saveGroup(h.id(), group, delivered, redeliveries, 0);
            out.sort(Comparator.comparingLong(Lease::sequence));
            return new LeaseBatch(out, tx.leases.nextDue(h.id(), group, now),
                    unsettled >= config.effectiveMaxInFlight());
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
        Settled onGroup(PgWriteTx tx, Held h) throws SQLException {
            Map<Long, PgLeases.Entry> found = tx.leases.find(h.id(), group, sequences);
            int settled = 0;
            int notHeld = 0;
            int unknown = 0;
            for (long seq : sequences) {
                PgLeases.Entry e = found.remove(seq);   // named twice: the second is settled already
                if (e == null) {
                    unknown++;
                } else if (!e.heldBy(holder, tx.now)) {
                    notHeld++;
                } else {
                    tx.leases.remove(h.id(), group, seq);
                    settled++;
                }
            }
            if (settled > 0) {
                tx.leases.flush();
                tx.leases.saveGroup(h.id(), group, h.group().delivered(), 0, tx.now);
                tx.events.shared(topic, group, false);   // room for the group's streams on other brokers
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
        Boolean onGroup(PgWriteTx tx, Held h) throws SQLException {
            PgLeases.Entry e = tx.leases.find(h.id(), group, List.of(sequence)).get(sequence);
            if (e == null || !e.heldBy(holder, tx.now)) {
                return false;
            }
            GroupConfig config = h.config();
            switch (action) {
                case RELEASE -> giveBack(tx, h, e,
                        tx.now + (delayMs > 0 ? delayMs : config.backoffAfter(e.deliveries())));
                case EXTEND -> tx.leases.put(h.id(), group, new PgLeases.Entry(e.seq(), e.deliveries(), e.holder(),
                        e.epoch(), tx.now + config.effectiveAckWaitMs()));
                case TERMINATE -> deadLetter(tx, h, e, PgDeadLetters.REJECTED, detail);
            }
            if (action != Action.EXTEND) {
                tx.events.shared(topic, group, action == Action.RELEASE);
            }
            tx.leases.flush();
            tx.leases.saveGroup(h.id(), group, h.group().delivered(), 0, 0);
            return true;
        }
    }

    /** The holder's stream ended: every lease it holds is given back (after its backoff) or dead-lettered. */
    static final class ReleaseAll extends HolderWrite<Integer> {

        ReleaseAll(String topic, String group, String holder, Completion<Integer> done) {
            super(topic, group, holder, done);
        }

        @Override
        Integer withoutGroup(SluiceException e) {
            return 0;   // the group or topic is gone: nothing is held any more
        }

        @Override
        Integer onGroup(PgWriteTx tx, Held h) throws SQLException {
            // An expired lease stays as it is: it comes back after its backoff counted from the expiry.
            List<PgLeases.Entry> held = tx.leases.heldBy(h.id(), group, holder).stream()
                    .filter(e -> e.heldBy(holder, tx.now)).toList();
            for (PgLeases.Entry e : held) {
                giveBack(tx, h, e, tx.now + h.config().backoffAfter(e.deliveries()));
            }
            if (!held.isEmpty()) {
                tx.leases.flush();
                tx.leases.saveGroup(h.id(), group, h.group().delivered(), 0, 0);
                tx.events.shared(topic, group, true);
            }
            return held.size();
        }
    }
}
