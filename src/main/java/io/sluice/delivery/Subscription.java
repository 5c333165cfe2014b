package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupPosition;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Subscribe stream. Its own virtual thread ({@code sub-<id>}) runs {@link #run()}: wait until
 * there is credit, transport readiness and something to send (new messages, a nacked message due
 * again, or a heartbeat), send it, repeat. Only that thread writes to the stream.
 *
 * <p>Everything else only changes state under {@link #lock} and signals {@link #changed}: credit
 * grants, acks and nacks ({@link #receive}, on the transport's inbound thread), new commits in the topic
 * ({@link #committed}, on the writer thread), transport readiness, cursor resets, takeover, cancel
 * and shutdown ({@link #end}).
 */
public final class Subscription implements Member {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());
    /** Most messages read and sent in one go. */
    static final int BATCH = 256;
    /** Most payload bytes read in one go (at least one message is always read). */
    static final long BATCH_BYTES = 1L << 20;
    /** Delivered, unacknowledged ids remembered per stream to resolve acks without a read. */
    static final int MAX_IN_FLIGHT = 65_536;
    /** Most messages pending redelivery on one stream (each at most once). */
    static final int MAX_REDELIVERIES = MAX_IN_FLIGHT;
    /** Longest redelivery delay a Nack may ask for: one hour. */
    public static final long MAX_NACK_DELAY_MS = Inbound.MAX_NACK_DELAY_MS;

    /** What the loop does next. */
    private enum Step { END, SEND_NEW, REDELIVER, HEARTBEAT }


    private final long id;
    private final SubscriptionSpec spec;
    private final Store store;
    private final Delivery owner;
    private final long heartbeatNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Credit credit = new Credit();                         // guarded by lock
    private final Redeliveries redeliveries = new Redeliveries(MAX_REDELIVERIES);    // guarded by lock
    private final TreeMap<Long, UUID> inFlight = new TreeMap<>();       // guarded by lock
    private long latest;                                                // guarded by lock
    private long acked = -1;                                            // guarded by lock
    private long repositionTo = -1;                                     // guarded by lock
    private long dueSequence;                                           // guarded by lock
    private volatile End end;

    private final Inbound inbound;
    private final Sender downstream;

    // Loop-only state (position is read by metrics, hence volatile).
    private volatile long position;   // the last sequence sent (or the cursor at the start)
    private Thread thread;

    private final CountedReader reader;   // loop only

    Subscription(long id, SubscriptionSpec spec, Store store, Delivery owner, Downstream out, long heartbeatNanos) {
        this.id = id;
        this.spec = spec;
        this.store = store;
        this.owner = owner;
        this.heartbeatNanos = heartbeatNanos;
        this.inbound = new Inbound(this, spec, store, owner);
        this.reader = new CountedReader(store, spec, this::availableCredit);
        this.downstream = new Sender(out, spec, owner.tracing());
    }

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

    // ---- the loop (subscription thread) ----

    private void run() {
        try {
            establish();
            loop:
            while (true) {
                switch (awaitStep()) {
                    case END -> {
                        break loop;
                    }
                    case SEND_NEW -> sendNew();
                    case REDELIVER -> redeliver();
                    case HEARTBEAT -> heartbeat();
                }
            }
        } catch (InterruptedException e) {
            end(End.SHUTTING_DOWN);
        } catch (SluiceException e) {
            end(End.failed(e));
        } catch (RuntimeException | Error e) {
            // The thread's top frame: whatever happened, the stream still gets its status and leaves the registries.
            LOG.log(Level.ERROR, "subscription " + id + " on " + spec.topic() + " failed", e);
            end(End.internal("the subscription failed: " + e));
        }
        finish();
    }

    /** Takes over the group if needed and finds where delivery starts. */
    private void establish() throws InterruptedException {
        owner.register(this);   // before reading the last sequence, so no commit is missed
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
                    spec.start(), false), opened);
            GroupPosition p = opened.await().position();
            position = p.cursor();
            lock.lock();
            try {
                acked = Math.max(acked, p.cursor());
            } finally {
                lock.unlock();
            }
        }
        lock.lock();
        try {
            latest = Math.max(latest, store.lastSequence(spec.topic()));
        } finally {
            lock.unlock();
        }
        LOG.log(Level.DEBUG, () -> "subscription " + id + " on " + spec.topic()
                + (spec.browse() ? " (browse)" : " group " + spec.group()) + " starts after " + position);
    }

    /** Waits until there is something to do, and says what. */
    private Step awaitStep() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (end != null) {
                    return Step.END;
                }
                if (repositionTo >= 0) {
                    position = repositionTo;
                    repositionTo = -1;
                    inFlight.clear();
                    reader.clear();
                }
                long now = System.nanoTime();
                boolean ready = downstream.isReady();
                if (ready && credit.available() > 0) {
                    long due = redeliveries.takeDue(now);
                    if (due >= 0) {
                        dueSequence = due;
                        return Step.REDELIVER;
                    }
                    if (latest > position || reader.pending()) {
                        return Step.SEND_NEW;
                    }
                }
                long idle = now - downstream.lastSentNanos();
                if (ready && idle >= heartbeatNanos) {
                    return Step.HEARTBEAT;
                }
                long wait = Math.min(heartbeatNanos - idle, redeliveries.nanosUntilNext(now));
                changed.awaitNanos(Math.max(wait, TimeUnit.MILLISECONDS.toNanos(1)));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends what follows the position, bounded by credit and batch size, once the store has counted
     * the deliveries (durable before anything is sent, so a count survives kill -9), while the
     * transport is ready; what it could not send yet is sent first next time (see {@link CountedReader}).
     */
    private void sendNew() throws InterruptedException {
        if (!reader.refill(position)) {
            // Nothing readable past the position (e.g. the topic was emptied): wait for the next commit.
            lock.lock();
            try {
                latest = Math.min(latest, position);
            } finally {
                lock.unlock();
            }
            return;
        }
        CountedBatch carry = reader.carry;
        int sent = 0;
        int again = 0;
        while (carry.hasNext()) {
            StoredMessage m = carry.peek();
            int count = carry.count();
            if (count == 0) {
                position = m.sequence();   // dead-lettered or terminated: it no longer blocks the ones after it
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
            position = m.sequence();
            carry.advance();
            sent++;
            again += count > 1 ? 1 : 0;
        }
        if (sent > 0) {
            owner.metrics().delivered(spec.topic(), spec.group(), sent, again);
        }
    }

    private long availableCredit() {
        lock.lock();
        try {
            return credit.available();
        } finally {
            lock.unlock();
        }
    }

    /** Spends one credit for {@code m} and remembers it as in flight; false when the position moved meanwhile. */
    private boolean spend(StoredMessage m) {
        lock.lock();
        try {
            if (repositionTo >= 0 || credit.available() <= 0) {
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

    private void redeliver() throws InterruptedException {
        long sequence;
        lock.lock();
        try {
            sequence = dueSequence;
        } finally {
            lock.unlock();
        }
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
            owner.metrics().delivered(spec.topic(), spec.group(), 1, 1);
        }
    }

    private void heartbeat() {
        long last;
        lock.lock();
        try {
            last = latest;
        } finally {
            lock.unlock();
        }
        downstream.heartbeat(last);
    }

    /** Sends the StreamError and status the end calls for, and leaves the registries. */
    private void finish() {
        owner.unregister(this);
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

    /** Ends the stream for {@code reason} (the first reason wins) and wakes the loop. */
    @Override
    public void end(End reason) {
        lock.lock();
        try {
            if (end == null) {
                end = reason;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The transport can take more, or something else changed. */
    @Override
    public void wake() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Messages up to {@code lastSequence} were committed in the topic (writer thread). */
    @Override
    public void committed(long lastSequence) {
        lock.lock();
        try {
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
            redeliveries.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops taking acks from this stream (after the one being handled), then ends it as taken over. */
    void takeOver() {
        inbound.stopTaking();
        end(End.TAKEN_OVER);
    }

    boolean ended() {
        return end != null;
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

    void grant(int credits) {
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

    /** The cumulative ack reached {@code highest}: false when the cursor is already there (a duplicate). */
    boolean ackedUpTo(long highest) {
        lock.lock();
        try {
            if (highest <= acked) {
                return false;
            }
            acked = highest;
            inFlight.headMap(highest, true).clear();
            return true;
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

    /** A message was terminated: it is no longer redelivered on this stream. */
    void terminated(long sequence) {
        lock.lock();
        try {
            redeliveries.remove(sequence);
            inFlight.remove(sequence);
        } finally {
            lock.unlock();
        }
    }

    /** The id delivered at {@code sequence} on this stream and not yet acknowledged, or null. */
    UUID inFlightId(long sequence) {
        lock.lock();
        try {
            return inFlight.get(sequence);
        } finally {
            lock.unlock();
        }
    }
}
