package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Lease;
import io.sluice.store.LeaseBatch;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Subscribe stream of a SHARED group (competing consumers); its loop is {@link StreamLoop}'s. Its
 * work, when there is a reason to ask the store for leases (new messages, a settle that made room, a
 * lease or backoff coming due): ask for at most the credit's worth; read the leased messages and send
 * them with the counts the store gave (durable before the answer). The store decides what is leased
 * to whom, so any number of these streams, on any number of brokers, share one group without giving a
 * message to two at once.
 *
 * <p>Commits in the topic and settles of the group reach it on the writer thread (through {@link
 * Delivery}), credit and acks through {@link SharedInbound}. When the stream ends, every lease it holds
 * is released in the store (each message back after its backoff).
 */
final class SharedSubscription extends StreamLoop {
    private static final long FAR = TimeUnit.DAYS.toNanos(1);

    final String holder;

    private boolean poke = true;                                    // guarded by lock: ask the store now
    private boolean full;                                           // guarded by lock: the group was at max in flight
    private boolean asking;                                         // guarded by lock: a lease request is unanswered
    private long retryAtNanos = System.nanoTime();                  // guarded by lock: a lease comes due then

    private final SharedInbound inbound;
    private final CountedBatch carry = new CountedBatch();   // loop only: leased and counted, not sent yet
    private Asked nextLease;                                 // loop only: the next leases, asked for already
    private final ArrayDeque<Lease> unread = new ArrayDeque<>();   // loop only: leased, not read yet

    SharedSubscription(long id, String instance, SubscriptionSpec spec, Store store, Delivery owner, Downstream out,
                       long heartbeatNanos) {
        super(id, spec, store, owner, out, heartbeatNanos);
        this.holder = instance + "/" + id + (spec.consumerId().isEmpty() ? "" : "/" + spec.consumerId());
        this.inbound = new SharedInbound(this, spec, store, owner);
    }

    @Override
    void open() throws InterruptedException {
        owner.register(this);
        var opened = new Pending<GroupSetup>();
        store.openGroup(new GroupRequest(spec.topic(), spec.group(), GroupMode.SHARED, spec.config(), spec.start(),
                false), opened);
        opened.await();
    }

    @Override
    boolean hasWork(long now) {
        if (carry.hasNext() || !unread.isEmpty()) {
            return true;
        }
        if (nextLease != null) {
            return nextLease.answered();   // its answer wakes the loop; a poke meanwhile is kept for after it
        }
        if (poke || now - retryAtNanos >= 0) {
            poke = false;
            return true;
        }
        return false;
    }

    @Override
    long nanosUntilWork(long now) {
        return nextLease != null ? FAR : retryAtNanos - now;
    }

    @Override
    void work() throws InterruptedException {
        leaseAndSend();
    }

    /**
     * Sends the leased messages not sent yet; when there are none, takes the next leases (asked for
     * before, or now), and at once asks for the ones after them, so that the commit of a lease overlaps
     * with the sending of the previous one. The loop never blocks on a lease request: one the store
     * has not answered yet (it may wait for room in a full group) wakes the loop when it is answered.
     */
    private void leaseAndSend() throws InterruptedException {
        if (!carry.hasNext()) {
            if (unread.isEmpty()) {
                if (nextLease == null) {
                    int want = want(0);
                    if (want == 0) {
                        return;
                    }
                    nextLease = ask(want);
                }
                LeaseBatch batch;
                try {
                    batch = nextLease.answer();
                } catch (SluiceException.NotFound e) {
                    // The group, or its topic, was deleted since the stream opened it; the store answers its
                    // callers before it tells listeners, so this may come first.
                    end(store.exists(spec.topic()) ? End.GROUP_DELETED : End.TOPIC_DELETED);
                    return;
                } catch (SluiceException.LeasesVoided e) {
                    end(End.CURSOR_RESET);   // a reset voided the group's leases while the request waited for room
                    return;
                }
                if (batch == null) {
                    return;   // not answered yet
                }
                nextLease = null;
                if (!took(batch)) {
                    return;
                }
                unread.addAll(batch.leases());
                int more = want(batch.leases().size());
                if (more > 0) {
                    nextLease = ask(more);
                }
            }
            if (!reserve(1)) {
                return;   // the budget is spent: the leases wait unread, the loop comes back
            }
            load();
        }
        sendCarried(carry);
    }

    @Override
    long readBytes() {
        return carry.remainingBytes();
    }

    /** Asks the store for up to {@code max} leases; the answer may wait for room in a full group. */
    private Asked ask(int max) {
        var asked = new Asked();
        lock.lock();
        try {
            asking = true;
        } finally {
            lock.unlock();
        }
        store.leaseWhenRoom(spec.topic(), spec.group(), holder, max, asked);
        return asked;
    }

    /** A lease request's answer: the writer thread hands it in and wakes the loop, which takes it. */
    private final class Asked implements Completion<LeaseBatch> {
        private LeaseBatch batch;           // guarded by lock
        private SluiceException error;      // guarded by lock
        private boolean done;               // guarded by lock

        @Override
        public void committed(LeaseBatch result) {
            settle(result, null);
        }

        @Override
        public void failed(SluiceException e) {
            settle(null, e);
        }

        private void settle(LeaseBatch result, SluiceException e) {
            lock.lock();
            try {
                batch = result;
                error = e;
                done = true;
                asking = false;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        /** Under {@link #lock}: true once answered. */
        boolean answered() {
            return done;
        }

        /** The answer, or null while there is none; a failure is thrown on the loop's thread. */
        LeaseBatch answer() {
            lock.lock();
            try {
                if (!done) {
                    return null;
                }
                if (error != null) {
                    throw error;
                }
                return batch;
            } finally {
                lock.unlock();
            }
        }
    }

    /** How many leases to ask for: the credit beyond the {@code held} ones not sent yet, at most a batch. */
    private int want(int held) {
        lock.lock();
        try {
            if (resetting(System.nanoTime())) {
                // A reset of the group is being stored (holdForReset): a lease taken now would take a
                // message the reset makes due, for a stream about to end, and count a delivery never made.
                return 0;
            }
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

    /**
     * Reads leased messages not read yet, in lease order, until about a batch's bytes ({@link #batchBytes})
     * of payload are held (always at least one message): a run of first deliveries is one range of the
     * topic, a redelivery one read. The rest stays leased and unread until what was read is sent, so a
     * stream of large messages holds a batch's bytes, not its credit's worth of them.
     */
    private void load() throws InterruptedException {
        var messages = new ArrayList<StoredMessage>();
        int[] counts = new int[unread.size()];
        var missing = new ArrayList<Long>();
        long bytes = 0;
        long limit = batchBytes();
        while (!unread.isEmpty() && bytes < limit) {
            Lease first = unread.peekFirst();
            int run = 1;   // a redelivery alone; first deliveries: the run of them at the head
            if (first.deliveryCount() == 1) {
                run = 0;
                for (Lease l : unread) {
                    if (l.deliveryCount() != 1) {
                        break;
                    }
                    run++;
                }
            }
            List<StoredMessage> read = store.read(spec.topic(), first.sequence() - 1, run, limit - bytes);
            // Fewer than asked with a byte limit reached: the leases past the last message read stay unread.
            boolean cut = !read.isEmpty() && read.size() < run;
            long lastRead = read.isEmpty() ? Long.MAX_VALUE : read.getLast().sequence();
            int r = 0;
            for (int k = 0; k < run; k++) {
                Lease lease = unread.peekFirst();
                if (cut && lease.sequence() > lastRead) {
                    break;
                }
                unread.pollFirst();
                while (r < read.size() && read.get(r).sequence() < lease.sequence()) {
                    r++;
                }
                if (r < read.size() && read.get(r).sequence() == lease.sequence()) {
                    StoredMessage m = read.get(r);
                    counts[messages.size()] = lease.deliveryCount();
                    messages.add(m);
                    bytes += m.payload().size();
                    budget.noteMessage(DeliveryBudget.bytesOf(m));
                } else {
                    missing.add(lease.sequence());
                }
            }
        }
        if (!missing.isEmpty()) {
            // Removed from the topic since it was leased: nothing is left to deliver, so it is settled.
            store.settle(spec.topic(), spec.group(), holder, missing, Delivery.logFailure("settling removed messages"));
        }
        carry.fill(messages, counts);
    }

    /** Releases every lease this stream holds. */
    @Override
    void leave() {
        owner.release(spec, holder);
    }

    // ---- signals (any thread) ----

    @Override
    public void committed(long lastSequence) {
        lock.lock();
        try {
            topicLast = Math.max(topicLast, lastSequence);
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
     * A stream whose lease request is unanswered is not woken (the answer wakes it); it asks again
     * after that answer, in case the request was decided before this change.
     */
    void groupChanged(boolean room) {
        lock.lock();
        try {
            if (asking) {
                poke = true;
                return;
            }
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

    @Override
    public void receive(Command command) throws InterruptedException {
        inbound.receive(command);
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
