package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.lang.System.Logger.Level;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What every Subscribe stream's loop shares, exclusive ({@link Subscription}) or shared ({@link
 * SharedSubscription}). Its own virtual thread ({@code sub-<id>}) runs it: open, then wait until there
 * is credit, transport readiness and work (what work is, each kind of stream says), do it, or send a
 * heartbeat when the stream has been idle; at the end send the status the end calls for. Only that
 * thread writes to the stream.
 *
 * <p>Everything else only changes state under {@link #lock} and signals {@link #changed}: credit
 * grants, acks and nacks (the transport's inbound thread), new commits in the topic (the writer
 * thread), transport readiness, cancel and shutdown ({@link #end}).
 */
abstract class StreamLoop implements Member {
    private static final System.Logger LOG = System.getLogger(StreamLoop.class.getName());
    /** Delivered, unacknowledged ids remembered per stream to resolve acks without a read. */
    static final int MAX_IN_FLIGHT = 65_536;

    private enum Step { END, WORK, SYNCED, HEARTBEAT }

    final long id;
    final SubscriptionSpec spec;
    final Store store;
    final Delivery owner;
    private final long heartbeatNanos;

    final ReentrantLock lock = new ReentrantLock();
    final Condition changed = lock.newCondition();
    final Credit credit = new Credit();                         // guarded by lock
    final TreeMap<Long, UUID> inFlight = new TreeMap<>();       // guarded by lock: sent, not acknowledged here
    long latest;                                                // guarded by lock: the topic's last sequence seen
    /** Guarded by lock: the topic's last sequence, for heartbeats; never lowered (retention may empty the topic). */
    long topicLast;
    /** Guarded by lock: until when an operator's cursor reset is being stored (0: none), see holdForReset. */
    long resettingUntil;

    static final java.time.Duration RESET_HOLD = java.time.Duration.ofSeconds(10);
    private final AckSyncs syncs = new AckSyncs(lock, changed);
    volatile End end;

    final Sender downstream;
    final DeliveryBudget budget;
    private Thread thread;
    private final StreamHolding holding;   // loop only (but transportClosed)
    private long unreadySince;   // loop only: when the transport was first seen not ready with sent bytes held (0: not)

    StreamLoop(long id, SubscriptionSpec spec, Store store, Delivery owner, Downstream out, long heartbeatNanos) {
        this.id = id;
        this.spec = spec;
        this.store = store;
        this.owner = owner;
        this.heartbeatNanos = heartbeatNanos;
        this.downstream = new Sender(out, spec, owner.tracing());
        this.budget = owner.budget();
        this.holding = new StreamHolding(budget);
    }

    // ---- what each kind of stream supplies ----

    /** Registers with the owner and opens the group (or finds a browse's start): delivery follows. */
    abstract void open() throws InterruptedException;

    /** Under {@link #lock}, before the stream looks for work: apply what changed the position, if anything. */
    void beforeStep() {
    }

    /** Under {@link #lock}, with credit and a ready transport: true when there is work; notes what it is. */
    abstract boolean hasWork(long now);

    /** Under {@link #lock}: nanoseconds until work may come due by itself (a redelivery, a lease). */
    abstract long nanosUntilWork(long now);

    /** Does the work {@link #hasWork} found (the loop's thread, without the lock). */
    abstract void work() throws InterruptedException;

    /** Under {@link #lock}: false when a message may not be sent now although there is credit. */
    boolean maySend() {
        return true;
    }

    /** {@code m} was sent, or passed over because it no longer needs delivery (the loop's thread). */
    void passed(StoredMessage m) {
    }

    /** True when {@code m}, read to be sent, needs no delivery: an ack already covers it (the loop's thread). */
    boolean covered(StoredMessage m) {
        return false;
    }

    /** After the stream left the registries, before its end is sent: give back what it held. */
    void leave() {
    }

    /** The loop's thread: bytes of the messages read and not sent yet. */
    abstract long readBytes();

    // ---- the delivery budget (the loop's thread) ----

    /**
     * Under {@link #lock}: the client has read nothing of what it was sent for three heartbeat intervals
     * while other streams wait for room in the budget: the stream ends (RESOURCE_EXHAUSTED), so a client
     * that never reads cannot hold delivery up for the others for long; what it holds is given back.
     */
    private void endSlowConsumer() {
        if (end == null) {
            end = End.failed(new SluiceException.TooLarge("the client read none of its deliveries for "
                    + TimeUnit.NANOSECONDS.toMillis(3 * heartbeatNanos) + " ms while other streams waited for the "
                    + "broker's delivery memory (--max-queued-bytes); reconnect and read what is sent"));
            LOG.log(Level.INFO, "subscription " + id + " on " + spec.topic() + " ended: its client reads nothing "
                    + "and other streams wait for delivery memory");
        }
    }

    /** What one read of this stream may hold (see {@link StreamHolding}). */
    final long batchBytes() {
        return holding.batchBytes();
    }

    /** True once the client has shown that it reads; until then nothing is read ahead. */
    final boolean reads() {
        return holding.reads();
    }

    /**
     * Before a read: takes room for {@code batches} batches of the largest size a read may return,
     * waiting a while at most; false when the budget has none yet (the loop comes back to it).
     */
    final boolean reserve(int batches) throws InterruptedException {
        return holding.reserve(batches, this::ended);
    }

    /** {@code m} was sent outside {@link #sendCarried}: its bytes stay charged until the transport is ready. */
    final void sentAlone(StoredMessage m) {
        holding.sent(DeliveryBudget.bytesOf(m));
    }

    /** Makes this stream's charge what it holds now: read and not sent, and sent since it was last ready. */
    final void recharge() {
        holding.recharge(readBytes());
    }

    // ---- the loop (the stream's thread) ----

    @Override
    public SubscriptionSpec spec() {
        return spec;
    }

    void start() {
        thread = Thread.ofVirtual().name("sub-" + id).start(this::run);
    }

    @Override
    public Thread thread() {
        return thread;
    }

    private void run() {
        try {
            open();
            long last = store.lastSequence(spec.topic());
            lock.lock();
            try {
                latest = Math.max(latest, last);
                topicLast = Math.max(topicLast, last);
            } finally {
                lock.unlock();
            }
            while (true) {
                Step step = awaitStep();
                if (step == Step.END) {
                    break;
                }
                if (step == Step.WORK) {
                    work();
                } else if (step == Step.SYNCED) {
                    sendSynced();
                } else {
                    heartbeat();
                }
            }
        } catch (InterruptedException e) {
            end(End.SHUTTING_DOWN);
        } catch (SluiceException.TakenOver e) {
            end(End.TAKEN_OVER);   // the store refused a write: a newer stream claimed the group elsewhere
        } catch (SluiceException e) {
            end(End.failed(e));
        } catch (RuntimeException | Error e) {
            // The thread's top frame: whatever happened, the stream still gets its status and leaves the registries.
            LOG.log(Level.ERROR, "subscription " + id + " on " + spec.topic() + " failed", e);
            end(End.internal("the subscription failed: " + e));
        }
        finish();
    }

    /** Waits until there is something to do, and says what. */
    private Step awaitStep() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (end != null) {
                    return Step.END;
                }
                beforeStep();
                long now = System.nanoTime();
                boolean ready = downstream.isReady();
                if (ready && holding.holdsSent()) {
                    holding.taken();   // the transport took what was sent: the client is reading
                    recharge();
                }
                if (ready || !holding.holdsSent()) {
                    unreadySince = 0;
                } else if (unreadySince == 0) {
                    unreadySince = now;
                } else if (now - unreadySince >= 3 * heartbeatNanos && budget.contended()) {
                    endSlowConsumer();
                    continue;
                }
                if (ready && syncs.due()) {
                    return Step.SYNCED;
                }
                if (ready && credit.available() > 0 && hasWork(now)) {
                    return Step.WORK;
                }
                long idle = now - downstream.lastSentNanos();
                if (ready && idle >= heartbeatNanos) {
                    return Step.HEARTBEAT;
                }
                // Not ready: nothing can be sent until the transport says so (it wakes the loop), so wait
                // a heartbeat interval (and look again whether it holds others back), never spin on a
                // heartbeat that is overdue.
                long wait = ready ? Math.min(heartbeatNanos - idle, nanosUntilWork(now)) : heartbeatNanos;
                changed.awaitNanos(Math.max(wait, TimeUnit.MILLISECONDS.toNanos(1)));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends what {@code carry} holds, in order, with the counts the store gave, while the stream lasts,
     * the transport is ready and credit remains; what it could not send stays in {@code carry} for next
     * time. A message counted 0 times (dead-lettered or terminated meanwhile), or one an ack already
     * covers, is passed over.
     */
    final void sendCarried(CountedBatch carry) {
        if (downstream.isReady()) {
            holding.taken();
        }
        int sent = 0;
        int again = 0;
        while (carry.hasNext()) {
            StoredMessage m = carry.peek();
            int count = carry.count();
            if (count == 0 || covered(m)) {
                passed(m);   // it no longer blocks the ones after it
                carry.advance();
                continue;
            }
            if (end != null || (sent > 0 && !downstream.isReady())) {
                break;   // the rest is sent later: a client that stops reading holds the loop, not the heap
            }
            if (!spend(m)) {
                break;
            }
            downstream.deliver(m, count);
            holding.sent(DeliveryBudget.bytesOf(m));
            passed(m);
            carry.advance();
            sent++;
            again += count > 1 ? 1 : 0;
        }
        if (sent > 0) {
            downstream.flush();
            owner.metrics().delivered(spec.topic(), spec.group(), sent, again);
        }
        recharge();
    }

    /** Spends one credit for {@code m} and remembers it as in flight; false when it may not be sent now. */
    final boolean spend(StoredMessage m) {
        lock.lock();
        try {
            if (!maySend() || credit.available() <= 0) {
                return false;
            }
            credit.spend();
            if (!spec.browse()) {
                inFlight.put(m.sequence(), m.id());
                if (inFlight.size() > MAX_IN_FLIGHT) {
                    inFlight.pollFirstEntry();
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    final long availableCredit() {
        lock.lock();
        try {
            return credit.available();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Inbound thread (AckSync): answers {@code syncId} on the stream once everything this stream
     * queued to the writer before now (its settles) is committed; blocks while the writer's queue is full.
     */
    final void sync(long syncId) throws InterruptedException {
        syncs.sync(store, spec.topic(), syncId);
    }

    private void sendSynced() {
        downstream.synced(syncs.take());
    }

    private void heartbeat() {
        long last;
        lock.lock();
        try {
            last = topicLast;
        } finally {
            lock.unlock();
        }
        downstream.heartbeat(last);
    }

    /** Leaves the registries, gives back what the stream held, and sends the end the stream calls for. */
    private void finish() {
        owner.unregister(this);
        leave();
        holding.end();
        End e = end;
        if (e == null || !e.reachesClient()) {
            return;
        }
        try {
            downstream.end(e);
        } catch (RuntimeException ex) {
            LOG.log(Level.DEBUG, () -> "subscription " + id + " ended while its call was closing: " + ex);
        }
    }

    // ---- signals (any thread) ----

    /**
     * An operator's cursor reset of the group is about to be stored: until the stream hears of it (an
     * exclusive stream repositions, a shared one ends CURSOR_RESET) or the answer runs (the reset
     * failed), an exclusive stream ignores acks and Terms and a shared one asks for no leases, so
     * nothing it does is stored after the reset as if before it. At most {@link #RESET_HOLD}.
     */
    final Runnable holdForReset() {
        lock.lock();
        try {
            resettingUntil = System.nanoTime() + RESET_HOLD.toNanos();
        } finally {
            lock.unlock();
        }
        return () -> {
            lock.lock();
            try {
                resettingUntil = 0;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        };
    }

    /** Under {@link #lock}: an operator's cursor reset is being stored ({@link #holdForReset}). */
    final boolean resetting(long now) {
        return resettingUntil != 0 && now - resettingUntil < 0;
    }

    /** Ends the stream for {@code reason} (the first reason wins) and wakes the loop. */
    @Override
    public final void end(End reason) {
        lock.lock();
        try {
            if (end == null) {
                end = reason;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        budget.wake();   // a loop waiting for room looks at its end
    }

    /** The call is over in the transport (closed, or reset): what it held of this stream is given back. */
    @Override
    public final void transportClosed() {
        holding.transportClosed();
    }

    /** The transport can take more, or something else changed. */
    @Override
    public final void wake() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    final boolean ended() {
        return end != null;
    }

    /** The consumer granted {@code credits} more messages (the inbound thread). */
    final void grant(int credits) {
        if (credits == 0) {
            return;
        }
        lock.lock();
        try {
            credit.grant(credits);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The id delivered at {@code sequence} on this stream and not yet acknowledged, or null. */
    final UUID inFlightId(long sequence) {
        lock.lock();
        try {
            return inFlight.get(sequence);
        } finally {
            lock.unlock();
        }
    }
}
