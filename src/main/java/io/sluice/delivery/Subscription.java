package io.sluice.delivery;

import io.grpc.Status;
import io.opentelemetry.api.trace.Span;
import io.grpc.stub.ServerCallStreamObserver;
import io.sluice.proto.Heartbeat;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.StreamError;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.store.Completion;
import io.sluice.store.GroupPosition;
import io.sluice.store.MessageIds;
import io.sluice.store.Pending;
import io.sluice.store.SluiceException;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.List;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.TreeSet;
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
 * grants, acks and nacks ({@link #receive}, on the gRPC inbound thread), new commits in the topic
 * ({@link #committed}, on the writer thread), transport readiness, cursor resets, takeover, cancel
 * and shutdown ({@link #end}).
 */
public final class Subscription {
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
    public static final long MAX_NACK_DELAY_MS = 3_600_000;

    private static final Warnings UNKNOWN_ACKS = new Warnings(LOG, "acks for unknown message ids");
    private static final Warnings REFUSED_NACKS = new Warnings(LOG, "nacks that were not applied");
    private static final Warnings BROWSE_ACKS = new Warnings(LOG, "acks on BROWSE streams");

    /** What the loop does next. */
    private enum Step { END, SEND_NEW, REDELIVER, HEARTBEAT }

    /** A message due again on this stream; ordered by when, then by sequence. */
    private record Redelivery(long sequence, long dueNanos) implements Comparable<Redelivery> {
        @Override
        public int compareTo(Redelivery o) {
            int byTime = Long.compare(dueNanos - o.dueNanos, 0);
            return byTime != 0 ? byTime : Long.compare(sequence, o.sequence);
        }
    }

    private final long id;
    private final SubscriptionSpec spec;
    private final Store store;
    private final Delivery owner;
    private final GroupState group;
    private final ServerCallStreamObserver<SubscribeDownstream> out;
    private final long heartbeatNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Credit credit = new Credit();                         // guarded by lock
    // A message is pending redelivery at most once: a second nack of it replaces the first.
    private final TreeSet<Redelivery> redeliveries = new TreeSet<>();                // guarded by lock
    private final HashMap<Long, Redelivery> redeliveryOf = new HashMap<>();           // guarded by lock
    private final TreeMap<Long, UUID> inFlight = new TreeMap<>();       // guarded by lock
    private long latest;                                                // guarded by lock
    private long acked = -1;                                            // guarded by lock
    private long repositionTo = -1;                                     // guarded by lock
    private long dueSequence;                                           // guarded by lock
    private volatile End end;

    /** Held while an inbound message is handled, so a takeover sees every ack already queued. */
    private final ReentrantLock inbound = new ReentrantLock();
    private boolean acceptingInbound = true;                            // guarded by inbound

    // Loop-only state (position is read by metrics, hence volatile).
    private volatile long position;   // the last sequence sent (or the cursor at the start)
    private long lastSentNanos = System.nanoTime();
    private Thread thread;

    Subscription(long id, SubscriptionSpec spec, Store store, Delivery owner, GroupState group,
                 ServerCallStreamObserver<SubscribeDownstream> out, long heartbeatNanos) {
        this.id = id;
        this.spec = spec;
        this.store = store;
        this.owner = owner;
        this.group = group;
        this.out = out;
        this.heartbeatNanos = heartbeatNanos;
    }

    SubscriptionSpec spec() {
        return spec;
    }

    void start() {
        thread = Thread.ofVirtual().name("sub-" + id).start(this::run);
    }

    Thread thread() {
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
            end(End.failed(owner.statusOf(e)));
        } catch (RuntimeException | Error e) {
            // The thread's top frame: whatever happened, the stream still gets its status and leaves the registries.
            LOG.log(Level.ERROR, "subscription " + id + " on " + spec.topic() + " failed", e);
            end(End.failed(Status.INTERNAL.withDescription("the subscription failed: " + e)));
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
            position = spec.start().cursor(store.lastSequence(spec.topic()));
        } else {
            owner.takeOverGroup(this);   // the previous stream's acks are queued before our open
            var opened = new Pending<GroupPosition>();
            store.openGroup(spec.topic(), spec.group(), spec.start(), opened);
            GroupPosition p = opened.await();
            group.load(p.cursor(), p.delivered());
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
                }
                long now = System.nanoTime();
                boolean ready = out.isReady();
                if (ready && credit.available() > 0) {
                    Redelivery next = redeliveries.isEmpty() ? null : redeliveries.first();
                    if (next != null && next.dueNanos - now <= 0) {
                        redeliveries.pollFirst();
                        redeliveryOf.remove(next.sequence);
                        dueSequence = next.sequence;
                        return Step.REDELIVER;
                    }
                    if (latest > position) {
                        return Step.SEND_NEW;
                    }
                }
                long idle = now - lastSentNanos;
                if (ready && idle >= heartbeatNanos) {
                    return Step.HEARTBEAT;
                }
                long wait = heartbeatNanos - idle;
                Redelivery next = redeliveries.isEmpty() ? null : redeliveries.first();
                if (next != null) {
                    wait = Math.min(wait, next.dueNanos - now);
                }
                changed.awaitNanos(Math.max(wait, TimeUnit.MILLISECONDS.toNanos(1)));
            }
        } finally {
            lock.unlock();
        }
    }

    /** Reads what follows the position, bounded by credit and batch size, and sends it while the transport is ready. */
    private void sendNew() {
        long allowed;
        lock.lock();
        try {
            allowed = credit.available();
        } finally {
            lock.unlock();
        }
        List<StoredMessage> batch = store.read(spec.topic(), position, (int) Math.min(allowed, BATCH), BATCH_BYTES);
        if (batch.isEmpty()) {
            // Nothing readable past the position (e.g. the topic was emptied): wait for the next commit.
            lock.lock();
            try {
                latest = Math.min(latest, position);
            } finally {
                lock.unlock();
            }
            return;
        }
        int sent = 0;
        int again = 0;
        for (StoredMessage m : batch) {
            if (end != null || (sent > 0 && !out.isReady())) {
                break;   // the rest is read again later: a client that stops reading holds the loop, not the heap
            }
            if (!spend(m)) {
                break;
            }
            int count = group.deliver(m.sequence());
            deliver(m, count);
            position = m.sequence();
            sent++;
            again += count > 1 ? 1 : 0;
        }
        if (sent > 0) {
            owner.metrics().delivered(spec.topic(), spec.group(), sent, again);
            if (!spec.browse()) {
                owner.markDelivered(spec, group.delivered());
            }
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

    private void redeliver() {
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
        if (spend(m)) {
            deliver(m, group.deliver(m.sequence()));
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
        send(SubscribeDownstream.newBuilder()
                .setHeartbeat(Heartbeat.newBuilder().setTimestamp(System.currentTimeMillis()).setLatestSeq(last))
                .build());
    }

    /** Sends one message inside its delivery span (a no-op span when tracing is off). */
    private void deliver(StoredMessage m, int count) {
        String messageId = m.id().toString();
        Span span = owner.tracing().startDelivery(spec.topic(), spec.group(), messageId, m.sequence(), count,
                m.attributes());
        try {
            send(delivery(m, messageId, count));
        } finally {
            span.end();
        }
    }

    private static SubscribeDownstream delivery(StoredMessage m, String messageId, int count) {
        return SubscribeDownstream.newBuilder().setDelivery(MessageDelivery.newBuilder()
                        .setMessageId(messageId)
                        .setSequence(m.sequence())
                        .setPayload(m.payload())
                        .putAllAttributes(m.attributes())
                        .setTimestamp(m.timestamp())
                        .setDeliveryCount(count))
                .build();
    }

    private void send(SubscribeDownstream message) {
        out.onNext(message);
        lastSentNanos = System.nanoTime();
    }

    /** Sends the StreamError and status the end calls for, and leaves the registries. */
    private void finish() {
        owner.unregister(this);
        End e = end;
        if (e == null || !e.reachesClient()) {
            return;
        }
        try {
            if (e.sendsStreamError()) {
                out.onNext(SubscribeDownstream.newBuilder().setError(StreamError.newBuilder()
                        .setCode(e.code())
                        .setMessage(e.status().getDescription())).build());
            }
            out.onError(e.status().asRuntimeException());
        } catch (RuntimeException ex) {
            LOG.log(Level.DEBUG, () -> "subscription " + id + " ended while its call was closing: " + ex);
        }
    }

    // ---- signals (any thread) ----

    /** Ends the stream for {@code reason} (the first reason wins) and wakes the loop. */
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
    public void wake() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Messages up to {@code lastSequence} were committed in the topic (writer thread). */
    void committed(long lastSequence) {
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
            redeliveryOf.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops taking acks from this stream (after the one being handled), then ends it as taken over. */
    void takeOver() {
        inbound.lock();
        try {
            acceptingInbound = false;
        } finally {
            inbound.unlock();
        }
        end(End.TAKEN_OVER);
    }

    boolean ended() {
        return end != null;
    }

    /** True when messages wait for this stream but it has no credit: the consumer holds delivery back. */
    boolean starved() {
        lock.lock();
        try {
            return end == null && credit.available() == 0 && (latest > position || !redeliveries.isEmpty());
        } finally {
            lock.unlock();
        }
    }

    // ---- inbound (the call's inbound thread) ----

    /** Handles one upstream message after init: credit, ack, nack or batch ack. */
    public void receive(SubscribeUpstream message) throws InterruptedException {
        inbound.lock();
        try {
            if (!acceptingInbound || end != null) {
                return;
            }
            switch (message.getRequestCase()) {
                case CREDIT -> grant(message.getCredit().getCredits());
                case ACK -> ack(List.of(message.getAck().getMessageId()));
                case BATCH_ACK -> ack(message.getBatchAck().getMessageIdsList());
                case NACK -> nack(message.getNack().getMessageId(), message.getNack().getRedeliveryDelayMs());
                case INIT -> end(End.failed(Status.INVALID_ARGUMENT.withDescription(
                        "init was already sent on this stream; open a new stream to subscribe again")));
                case REQUEST_NOT_SET -> end(End.failed(Status.INVALID_ARGUMENT.withDescription(
                        "an upstream message must carry init, credit, ack, nack or batch_ack")));
            }
        } finally {
            inbound.unlock();
        }
    }

    private void grant(int credits) {
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

    private void ack(List<String> ids) throws InterruptedException {
        if (spec.browse()) {
            BROWSE_ACKS.warn("ack on a BROWSE stream of " + spec.topic() + " ignored: browsing never moves a cursor");
            return;
        }
        long highest = -1;
        for (String messageId : ids) {
            OptionalLong seq = resolve(messageId);
            if (seq.isEmpty()) {
                UNKNOWN_ACKS.warn("ack for unknown message id '" + printable(messageId) + "' on topic "
                        + spec.topic() + " group " + spec.group() + " ignored");
                continue;
            }
            highest = Math.max(highest, seq.getAsLong());
        }
        if (highest < 0) {
            return;
        }
        lock.lock();
        try {
            if (highest <= acked) {
                return;   // a duplicate or older ack: the cursor is already past it
            }
            acked = highest;
            inFlight.headMap(highest, true).clear();
        } finally {
            lock.unlock();
        }
        group.acked(highest);
        owner.ack(spec, highest);
        owner.metrics().acked(spec.topic(), spec.group());
    }

    /**
     * Schedules the message for redelivery on this stream after the delay. Only a message this
     * stream delivered and that is not acknowledged can be nacked; it is pending at most once (a
     * later nack replaces the earlier), and at most {@link #MAX_REDELIVERIES} are pending.
     */
    private void nack(String messageId, int delayMs) {
        long delay = Integer.toUnsignedLong(delayMs);
        if (delay > MAX_NACK_DELAY_MS) {
            end(End.failed(Status.INVALID_ARGUMENT.withDescription("nack redelivery_delay_ms " + delay
                    + " exceeds the maximum of " + MAX_NACK_DELAY_MS + " ms (one hour)")));
            return;
        }
        OptionalLong seq = resolve(messageId);
        if (seq.isEmpty()) {
            REFUSED_NACKS.warn("nack for unknown message id '" + printable(messageId) + "' on topic "
                    + spec.topic() + " ignored");
            return;
        }
        long sequence = seq.getAsLong();
        String refused = null;
        lock.lock();
        try {
            if (sequence <= acked || sequence > position) {
                refused = sequence <= acked ? "it is already acknowledged" : "it was not delivered on this stream";
            } else if (!redeliveryOf.containsKey(sequence) && redeliveryOf.size() >= MAX_REDELIVERIES) {
                refused = MAX_REDELIVERIES + " messages are already pending redelivery on this stream";
            } else {
                var again = new Redelivery(sequence, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay));
                Redelivery before = redeliveryOf.put(sequence, again);
                if (before != null) {
                    redeliveries.remove(before);
                }
                redeliveries.add(again);
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
        if (refused != null) {
            REFUSED_NACKS.warn("nack of message " + sequence + " on topic " + spec.topic() + " ignored: " + refused);
            return;
        }
        owner.metrics().nacked(spec.topic(), spec.group());
    }

    /** The sequence of a message id of this topic: from the ids in flight, else from the store. */
    private OptionalLong resolve(String messageId) {
        UUID id = MessageIds.parse(messageId);   // parsed once: the sequence and the comparison
        OptionalLong seq = MessageIds.sequenceOf(id);
        if (seq.isEmpty()) {
            return seq;
        }
        lock.lock();
        try {
            UUID known = inFlight.get(seq.getAsLong());
            if (known != null && known.equals(id)) {
                return seq;
            }
        } finally {
            lock.unlock();
        }
        return store.resolve(spec.topic(), messageId);
    }

    private static String printable(String s) {
        String cut = s.length() > 64 ? s.substring(0, 64) + "..." : s;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /** Logs an ack the writer could not store: the message is delivered again after a reconnect. */
    static Completion<Boolean> logFailure(String what) {
        return new Completion<>() {
            @Override
            public void committed(Boolean result) {
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, what + " was not stored: " + error.getMessage());
            }
        };
    }
}
