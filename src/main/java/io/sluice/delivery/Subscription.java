package io.sluice.delivery;

import io.sluice.store.GroupMode;
import io.sluice.store.GroupPosition;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.lang.System.Logger.Level;
import java.util.List;

/**
 * One exclusive (or browsing) Subscribe stream; its loop is {@link StreamLoop}'s. Its work: send what
 * follows the position, bounded by credit (once the store has counted the deliveries, see {@link
 * CountedReader}), or a nacked message due again. Acks move the group's cursor ({@link Inbound}); an
 * operator's cursor reset repositions the stream; a newer stream of the group takes it over.
 */
public final class Subscription extends StreamLoop {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());
    /** Most messages read and sent in one go. */
    static final int BATCH = 256;
    /** Most payload bytes read in one go (at least one message is always read). */
    static final long BATCH_BYTES = 1L << 20;
    /** Most messages pending redelivery on one stream (each at most once). */
    static final int MAX_REDELIVERIES = MAX_IN_FLIGHT;
    /** Longest redelivery delay a Nack may ask for: one hour. */
    public static final long MAX_NACK_DELAY_MS = Inbound.MAX_NACK_DELAY_MS;
    /** Longest a takeover waits for the acks the server holds for the stream it takes over. */
    static final java.time.Duration HAND_OVER_WAIT = java.time.Duration.ofSeconds(2);

    private final Redeliveries redeliveries = new Redeliveries(MAX_REDELIVERIES);    // guarded by lock
    private volatile long acked = -1;                                   // written under lock
    private long repositionTo = -1;                                     // guarded by lock
    /** After a cursor reset: the highest sequence delivered before it (acks up to it may be stale), else -1. */
    private long staleUpTo = -1;                                        // guarded by lock
    private long dueSequence = -1;                                      // guarded by lock: the redelivery to do next
    private boolean handingOver;                                        // guarded by lock: a takeover is under way
    /** The group's claim this stream holds (set once by open; {@link Store#NO_CLAIM} when none). */
    private volatile long claim = Store.NO_CLAIM;

    private final Inbound inbound;

    // Loop-only state (position is read by metrics, hence volatile).
    private volatile long position;   // the last sequence sent (or the cursor at the start)
    private final CountedReader reader;   // loop only

    Subscription(long id, SubscriptionSpec spec, Store store, Delivery owner, Downstream out, long heartbeatNanos) {
        super(id, spec, store, owner, out, heartbeatNanos);
        this.inbound = new Inbound(this, spec, store, owner);
        this.reader = new CountedReader(store, spec, this::availableCredit, budget, this::batchBytes,
                () -> reads() && !resettingNow());
    }

    // ---- the loop (subscription thread) ----

    /** Takes over the group if needed and finds where delivery starts. */
    @Override
    void open() throws InterruptedException {
        owner.register(this);   // before the loop reads the last sequence, so no commit is missed
        if (spec.browse()) {
            var topic = new Pending<io.sluice.store.TopicInfo>();
            store.ensureTopic(spec.topic(), topic);
            topic.await();
            position = spec.start().cursor(store.lastSequence(spec.topic()),
                    millis -> store.cursorAtTime(spec.topic(), millis));
        } else {
            owner.takeOverGroup(this);   // the previous stream's acks are queued before our open
            var opened = new Pending<GroupSetup>();
            store.openGroup(new GroupRequest(spec.topic(), spec.group(), GroupMode.EXCLUSIVE, spec.config(),
                    spec.start(), false, true), opened);
            GroupSetup setup = opened.await();
            claim = setup.claim();   // a newer claim through another broker ends this stream
            reader.claim = claim;
            GroupPosition p = setup.position();
            position = p.cursor();
            lock.lock();
            try {
                acked = Math.max(acked, p.cursor());
            } finally {
                lock.unlock();
            }
        }
        LOG.log(Level.DEBUG, () -> "subscription " + id + " on " + spec.topic()
                + (spec.browse() ? " (browse)" : " group " + spec.group()) + " starts after " + position);
    }

    @Override
    void beforeStep() {
        if (repositionTo >= 0) {
            position = repositionTo;
            repositionTo = -1;
            inFlight.clear();
            reader.clear();
            recharge();
        }
    }

    @Override
    long readBytes() {
        return reader.heldBytes();
    }

    @Override
    boolean hasWork(long now) {
        if (handingOver || resetting(now)) {
            return false;   // a cursor reset being stored: reads now would count deliveries it has just cleared
        }
        dueSequence = redeliveries.takeDue(now);
        return dueSequence >= 0 || latest > position || reader.pending();
    }

    @Override
    long nanosUntilWork(long now) {
        long next = redeliveries.nanosUntilNext(now);
        return resetting(now) ? Math.min(next, resettingUntil - now) : next;
    }

    /** True while an operator's cursor reset is being stored: the reader reads nothing ahead meanwhile. */
    private boolean resettingNow() {
        lock.lock();
        try {
            return resetting(System.nanoTime());
        } finally {
            lock.unlock();
        }
    }

    @Override
    void work() throws InterruptedException {
        long due;
        boolean covered;
        lock.lock();
        try {
            due = dueSequence;
            dueSequence = -1;
            covered = due <= acked;   // an ack since it came due covers it: nothing to redeliver
        } finally {
            lock.unlock();
        }
        if (due >= 0) {
            if (!covered) {
                redeliver(due);
            }
        } else {
            sendNew();
        }
    }

    /**
     * Sends what follows the position, bounded by credit and batch size, once the store has counted
     * the deliveries (durable before anything is sent, so a count survives kill -9), while the
     * transport is ready; what it could not send yet is sent first next time (see {@link CountedReader}).
     */
    private void sendNew() throws InterruptedException {
        // A stream holding nothing read waits for room for two batches (the next, and some ahead).
        if (!reader.pending() && !reserve(2)) {
            return;   // the budget is spent: the loop comes back
        }
        if (!reader.pending() && acked > position) {
            position = acked;   // the consumer acked messages not sent yet: they are not sent
        }
        if (!reader.refill(position)) {
            recharge();
            // Nothing readable past the position (e.g. the topic was emptied): wait for the next commit.
            lock.lock();
            try {
                latest = Math.min(latest, position);
            } finally {
                lock.unlock();
            }
            return;
        }
        sendCarried(reader.carry);
    }

    @Override
    void passed(StoredMessage m) {
        position = m.sequence();
    }

    @Override
    boolean covered(StoredMessage m) {
        return m.sequence() <= acked;
    }

    @Override
    boolean maySend() {
        return repositionTo < 0;   // a message read before a cursor reset is not sent after it
    }

    private void redeliver(long sequence) throws InterruptedException {
        if (!reserve(1)) {
            lock.lock();
            try {
                redeliveries.schedule(sequence, System.nanoTime());   // due still: the loop comes back
            } finally {
                lock.unlock();
            }
            return;
        }
        try {
            redeliverRead(sequence);
        } finally {
            recharge();
        }
    }

    private void redeliverRead(long sequence) throws InterruptedException {
        List<StoredMessage> found = store.read(spec.topic(), sequence - 1, 1);
        if (found.isEmpty() || found.getFirst().sequence() != sequence) {
            return;   // deleted meanwhile: nothing to redeliver
        }
        StoredMessage m = found.getFirst();
        int count = spec.browse() ? 2 : reader.countNow(found)[0];   // a browse counts nothing in the store
        if (count == 0) {
            return;   // dead-lettered: exhausted its deliveries
        }
        if (spend(m)) {
            downstream.deliver(m, count);
            downstream.flush();
            sentAlone(m);
            owner.metrics().delivered(spec.topic(), spec.group(), 1, 1);
        }
    }

    // ---- signals (any thread) ----

    /** Messages up to {@code lastSequence} were committed in the topic (writer thread). */
    @Override
    public void committed(long lastSequence) {
        lock.lock();
        try {
            topicLast = Math.max(topicLast, lastSequence);
            if (lastSequence > latest) {
                latest = lastSequence;
                if (credit.available() > 0) {
                    // Without credit there is nothing to send: the next grant wakes the loop, which
                    // then finds the new messages. A consumer that has spent its credit is not woken
                    // by every commit of a busy topic.
                    changed.signalAll();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** An operator moved the group's cursor: delivery continues after it. */
    void reposition(long cursor) {
        lock.lock();
        try {
            repositionTo = cursor;
            acked = cursor;
            resettingUntil = 0;
            // Acks of what was delivered before the reset may still be on their way: they must not move
            // the cursor past messages the replay has not sent again.
            long delivered = inFlight.isEmpty() ? -1 : inFlight.lastKey();
            staleUpTo = delivered > cursor ? Math.max(staleUpTo, delivered) : staleUpTo;
            inFlight.clear();
            redeliveries.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The group's claim this stream holds, {@link Store#NO_CLAIM} before the open answered or when none. */
    long claim() {
        return claim;
    }

    /** Stops taking acks from this stream (after the one being handled), then ends it as taken over. */
    void takeOver() {
        inbound.stopTaking();
        end(End.TAKEN_OVER);
    }

    /**
     * A newer stream of the group on this broker takes over (called on its thread, by its open): this
     * stream sends nothing more, the acks and Terms the server holds for it (queued, or unread in the
     * transport) are handled, so they reach the writer before the new stream's open and it starts after
     * them (SPEC §3), and then it ends TAKEN_OVER. Waits at most {@link #HAND_OVER_WAIT}; a client that
     * keeps sending past it is cut off there. Acks still on their way over the network are not waited for.
     */
    void handOver() throws InterruptedException {
        lock.lock();
        try {
            handingOver = true;   // the loop looks for no more work
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        inbound.handOver();   // acks and Terms are still taken once the stream has ended
        boolean settled = downstream.settleInbound(HAND_OVER_WAIT.toNanos());
        inbound.stopTaking();
        end(End.TAKEN_OVER);
        if (!settled) {
            LOG.log(Level.WARNING, "group " + spec.group() + " on " + spec.topic() + ": the stream taken over "
                    + "kept sending for " + HAND_OVER_WAIT.toSeconds() + " s; the new stream starts without the rest");
        }
    }

    /** True when messages wait for this stream but it has no credit: the consumer holds delivery back. */
    @Override
    public boolean starved() {
        lock.lock();
        try {
            return end == null && credit.available() == 0 && (latest > position || !redeliveries.isEmpty());
        } finally {
            lock.unlock();
        }
    }

    // ---- inbound state changes (the call's inbound thread, through Inbound) ----

    /** Handles one command of the consumer after init: credit, ack, nack or term (see {@link Inbound}). */
    @Override
    public void receive(Command command) throws InterruptedException {
        inbound.receive(command);
    }

    /**
     * The cumulative ack reached {@code highest}: what it covers is no longer in flight nor pending
     * redelivery. Answers how many messages it settled: those this stream delivered up to {@code highest},
     * at least 1 (a message delivered to an earlier stream); 0 when the cursor is already there (a duplicate);
     * -1 when it acknowledges a delivery made before a cursor reset that the replay has not made again.
     */
    int ackedUpTo(long highest) {
        lock.lock();
        try {
            if (resetting(System.nanoTime())) {
                return -1;   // an ack of a delivery made before the reset being stored: it must not follow it
            }
            if (highest <= acked) {
                return 0;
            }
            if (highest <= staleUpTo && !inFlight.containsKey(highest)) {
                return -1;
            }
            if (highest >= staleUpTo) {
                staleUpTo = -1;   // the replay is past what was delivered before the reset
            }
            acked = highest;
            var covered = inFlight.headMap(highest, true);
            int settled = Math.max(1, covered.size());
            covered.clear();
            redeliveries.removeUpTo(highest);   // a nacked message the ack covers is not due again
            return settled;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Schedules a message this stream delivered, not acknowledged, for redelivery after {@code delayNanos};
     * answers why it cannot be, or null when it is scheduled.
     */
    String redeliverLater(long sequence, long delayNanos) {
        lock.lock();
        try {
            if (sequence <= acked) {
                return "it is already acknowledged";
            }
            if (sequence > position) {
                return "it was not delivered on this stream";
            }
            if (!redeliveries.schedule(sequence, System.nanoTime() + delayNanos)) {
                return redeliveries.capacity() + " messages are already pending redelivery on this stream";
            }
            changed.signalAll();
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The consumer terminates a message: it is no longer redelivered on this stream. False (nothing
     * changes, the Term is ignored) for a delivery made before a cursor reset, while the reset is being
     * stored or until the replay delivers it again: stored after the reset, it would settle a message
     * the replay has not sent, and the cursor would pass it, as such an ack would.
     */
    boolean terminated(long sequence) {
        lock.lock();
        try {
            if (resetting(System.nanoTime()) || (sequence <= staleUpTo && !inFlight.containsKey(sequence))) {
                return false;
            }
            redeliveries.remove(sequence);
            inFlight.remove(sequence);
            return true;
        } finally {
            lock.unlock();
        }
    }
}
