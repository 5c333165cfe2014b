package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Lease;
import io.sluice.store.LeaseBatch;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Subscribe stream of a SHARED group (competing consumers). Its own virtual thread ({@code
 * sub-<id>}) runs the loop: wait until there is credit, transport readiness and a reason to ask the
 * store for leases (new messages, a settle that made room, a lease or backoff coming due); ask for
 * at most the credit's worth; read the leased messages and send them with the counts the store gave
 * (durable before the answer); repeat. The store decides what is leased to whom, so any number of
 * these streams, on any number of brokers, share one group without giving a message to two at once.
 *
 * <p>Everything else only changes state under {@link #lock} and signals {@link #changed}: credit
 * ({@link SharedInbound}, on the inbound thread), commits in the topic and settles of the group
 * (writer thread, through {@link Delivery}), transport readiness, shutdown ({@link #end}). When the
 * stream ends, every lease it holds is released in the store (each message back after its backoff).
 */
final class SharedSubscription implements Member {
    private static final System.Logger LOG = System.getLogger(SharedSubscription.class.getName());
    private static final long FAR = TimeUnit.DAYS.toNanos(1);

    private enum Step { END, LEASE, HEARTBEAT }

    private final long id;
    private final SubscriptionSpec spec;
    private final Store store;
    private final Delivery owner;
    private final long heartbeatNanos;
    final String holder;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Credit credit = new Credit();                     // guarded by lock
    private final TreeMap<Long, UUID> inFlight = new TreeMap<>();   // guarded by lock: sent, not settled here
    private boolean poke = true;                                    // guarded by lock: ask the store now
    private boolean full;                                           // guarded by lock: the group was at max in flight
    private long retryAtNanos = System.nanoTime();                  // guarded by lock: a lease comes due then
    private long latest;                                            // guarded by lock
    private volatile End end;

    private final SharedInbound inbound;
    private final Sender downstream;
    private Thread thread;
    private final CountedBatch carry = new CountedBatch();   // loop only: leased and counted, not sent yet
    private Pending<LeaseBatch> nextLease;                   // loop only: the next leases, asked for already

    SharedSubscription(long id, String instance, SubscriptionSpec spec, Store store, Delivery owner, Downstream out,
                       long heartbeatNanos) {
        this.id = id;
        this.spec = spec;
        this.store = store;
        this.owner = owner;
        this.heartbeatNanos = heartbeatNanos;
        this.holder = instance + "/" + id + (spec.consumerId().isEmpty() ? "" : "/" + spec.consumerId());
        this.inbound = new SharedInbound(this, spec, store, owner);
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

    private void run() {
        try {
            owner.register(this);
            var opened = new Pending<GroupSetup>();
            store.openGroup(new GroupRequest(spec.topic(), spec.group(), GroupMode.SHARED, spec.config(), spec.start(),
                    false), opened);
            opened.await();
            lock.lock();
            try {
                latest = Math.max(latest, store.lastSequence(spec.topic()));
            } finally {
                lock.unlock();
            }
            loop:
            while (true) {
                switch (awaitStep()) {
                    case END -> {
                        break loop;
                    }
                    case LEASE -> leaseAndSend();
                    case HEARTBEAT -> heartbeat();
                }
            }
        } catch (InterruptedException e) {
            end(End.SHUTTING_DOWN);
        } catch (SluiceException e) {
            end(End.failed(e));
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "subscription " + id + " on " + spec.topic() + " failed", e);
            end(End.internal("the subscription failed: " + e));
        }
        finish();
    }

    private Step awaitStep() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (end != null) {
                    return Step.END;
                }
                long now = System.nanoTime();
                boolean ready = downstream.isReady();
                if (ready && credit.available() > 0 && (poke || now - retryAtNanos >= 0 || carry.hasNext()
                        || nextLease != null)) {
                    poke = false;
                    return Step.LEASE;
                }
                long idle = now - downstream.lastSentNanos();
                if (ready && idle >= heartbeatNanos) {
                    return Step.HEARTBEAT;
                }
                long wait = Math.min(heartbeatNanos - idle, retryAtNanos - now);
                changed.awaitNanos(Math.max(wait, TimeUnit.MILLISECONDS.toNanos(1)));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends the leased messages not sent yet; when there are none, takes the next leases (asked for
     * before, or now), and at once asks for the ones after them, so that the commit of a lease overlaps
     * with the sending of the previous one.
     */
    private void leaseAndSend() throws InterruptedException {
        if (!carry.hasNext()) {
            LeaseBatch batch;
            if (nextLease != null) {
                batch = nextLease.await();
                nextLease = null;
            } else {
                var leased = new Pending<LeaseBatch>();
                store.lease(spec.topic(), spec.group(), holder, want(0), leased);
                batch = leased.await();
            }
            if (!took(batch)) {
                return;
            }
            load(batch.leases());
            int more = want(batch.leases().size());
            if (more > 0) {
                nextLease = new Pending<>();
                store.lease(spec.topic(), spec.group(), holder, more, nextLease);
            }
        }
        int sent = 0;
        int again = 0;
        while (carry.hasNext()) {
            if (end != null || (sent > 0 && !downstream.isReady())) {
                break;
            }
            StoredMessage m = carry.peek();
            int count = carry.count();
            if (!spend(m)) {
                break;
            }
            downstream.deliver(m, count);
            carry.advance();
            sent++;
            again += count > 1 ? 1 : 0;
        }
        if (sent > 0) {
            owner.metrics().delivered(spec.topic(), spec.group(), sent, again);
        }
    }

    /** How many leases to ask for: the credit beyond the {@code held} ones not sent yet, at most a batch. */
    private int want(int held) {
        lock.lock();
        try {
            return (int) Math.max(0, Math.min(credit.available() - held, Subscription.BATCH));
        } finally {
            lock.unlock();
        }
    }

    /** Notes what a lease request found; false when it got nothing (then the stream waits until one may come due). */
    private boolean took(LeaseBatch batch) {
        lock.lock();
        try {
            full = batch.full();
            if (batch.leases().isEmpty()) {
                long wait = batch.nextDueMillis() == Long.MAX_VALUE ? FAR
                        : TimeUnit.MILLISECONDS.toNanos(Math.max(1, batch.nextDueMillis() - System.currentTimeMillis()));
                retryAtNanos = System.nanoTime() + Math.min(wait, FAR);
                return false;
            }
            retryAtNanos = System.nanoTime();   // there may be more: ask again while credit lasts
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Reads the leased messages: first deliveries are one range of the topic, redeliveries one read each. */
    private void load(List<Lease> leases) throws InterruptedException {
        var messages = new ArrayList<StoredMessage>(leases.size());
        int[] counts = new int[leases.size()];
        var missing = new ArrayList<Long>();
        int i = 0;
        while (i < leases.size()) {
            Lease first = leases.get(i);
            int run = 1;
            while (first.deliveryCount() == 1 && i + run < leases.size() && leases.get(i + run).deliveryCount() == 1) {
                run++;
            }
            List<StoredMessage> read = store.read(spec.topic(), first.sequence() - 1, run);
            int r = 0;
            for (int k = i; k < i + run; k++) {
                Lease lease = leases.get(k);
                while (r < read.size() && read.get(r).sequence() < lease.sequence()) {
                    r++;
                }
                if (r < read.size() && read.get(r).sequence() == lease.sequence()) {
                    counts[messages.size()] = lease.deliveryCount();
                    messages.add(read.get(r));
                } else {
                    missing.add(lease.sequence());
                }
            }
            i += run;
        }
        if (!missing.isEmpty()) {
            // Removed from the topic since it was leased: nothing is left to deliver, so it is settled.
            store.settle(spec.topic(), spec.group(), holder, missing, Delivery.logFailure("settling removed messages"));
        }
        carry.fill(messages, counts);
    }

    private boolean spend(StoredMessage m) {
        lock.lock();
        try {
            if (credit.available() <= 0) {
                return false;
            }
            credit.spend();
            inFlight.put(m.sequence(), m.id());
            if (inFlight.size() > Subscription.MAX_IN_FLIGHT) {
                inFlight.pollFirstEntry();
            }
            return true;
        } finally {
            lock.unlock();
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

    /** Leaves the registries, releases every lease this stream holds, and sends the end the stream calls for. */
    private void finish() {
        owner.unregister(this);
        store.releaseAll(spec.topic(), spec.group(), holder, owner.released(spec));
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

    @Override
    public void wake() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void committed(long lastSequence) {
        lock.lock();
        try {
            if (lastSequence > latest) {
                latest = lastSequence;
                if (!full) {
                    poke = true;
                    if (credit.available() > 0) {
                        changed.signalAll();
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The group's leases changed in the store (writer thread): a settle that may have made room, or a
     * release that makes a message due. {@code room}: only a stream held back by max in flight cares.
     */
    void groupChanged(boolean room) {
        lock.lock();
        try {
            if (!room || full) {
                poke = true;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean starved() {
        lock.lock();
        try {
            return end == null && credit.available() == 0 && !full && latest > 0;
        } finally {
            lock.unlock();
        }
    }

    boolean ended() {
        return end != null;
    }

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

    /** The id this stream sent at {@code sequence} and has not seen settled, or null. */
    UUID inFlightId(long sequence) {
        lock.lock();
        try {
            return inFlight.get(sequence);
        } finally {
            lock.unlock();
        }
    }

    /** Messages settled through this stream: no longer remembered. */
    void settled(List<Long> sequences) {
        lock.lock();
        try {
            sequences.forEach(inFlight::remove);
        } finally {
            lock.unlock();
        }
    }
}
