package io.sluice.client;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeUpstream;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Iterator;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A subscription to one topic, opened by {@link SluiceClient#subscribe}. It hides the credit protocol:
 * the broker may deliver up to {@link SubscriptionOptions#creditWindow()} messages ahead of the
 * application, and the credit for messages handed out is granted back, in chunks of about a quarter
 * of the window, when the application asks for its next message. A consumer that stops asking therefore
 * stops the flow, and at most a window of messages waits in memory.
 *
 * <p>When the stream is lost (the broker restarts, shuts down, or the connection breaks) the
 * subscription opens a new one after a pause that doubles per failed attempt, with jitter, and the
 * consumer group resumes after its persisted cursor: messages delivered but not acknowledged come
 * again with {@link Message#deliveryCount()} above 1, and the ones still waiting in memory from the
 * lost stream are dropped (they come again too). It gives up with {@link SluiceClientException.Unavailable}
 * after {@link SubscriptionOptions#reconnectFor()} without a working stream. A takeover by another
 * stream of the group, a deleted topic, or a refused request (a bad name) end it for good; the next
 * {@link #receive()} throws that failure.
 *
 * <p>Threads: one virtual thread per subscription ({@code sluice-subscription-<topic>}) opens the
 * streams and waits for each to end, waking every 20 ms to send acks held back for a batch; it
 * blocks only on that and on the reconnect pause, and {@link #close()} wakes it. gRPC's callback
 * thread puts deliveries into a queue. The application calls {@link #receive()} (blocks on the
 * queue), {@link #ack}, {@link #nack} and {@link #close()} from any thread; none of the sends blocks.
 * Acks are cumulative on the broker: acking a message acknowledges every earlier one of the topic for
 * the group, so the client sends only the highest of a batch ({@link Acknowledger}). Credit goes back
 * to the broker in chunks of a quarter of the window, never a round trip per message.
 */
public final class Subscription implements AutoCloseable, Iterable<Message> {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());
    private static final Duration JOIN_WAIT = Duration.ofSeconds(5);
    /** Longest an ack waits in the client for the acks that follow it to be sent with them. */
    static final Duration ACK_DELAY = Duration.ofMillis(20);

    private final SubscriptionOptions options;
    private final String target;
    private final SluiceGrpc.SluiceStub stub;
    private final ManagedChannel channel;
    private final Consumer<Subscription> onClose;
    private final Backoff backoff;
    private final Inbox inbox;
    private final AtomicInteger reconnects = new AtomicInteger();
    private final Thread thread;

    private final ReentrantLock lock = new ReentrantLock();   // guards the acknowledger's stream and closing flag
    private final Condition wake = lock.newCondition();
    private final Acknowledger acker;
    private final boolean shared;
    private volatile SluiceClientException failure;

    private Subscription(SubscriptionOptions options, String target, SluiceGrpc.SluiceStub stub,
                         ManagedChannel channel, EventExecutor io, Consumer<Subscription> onClose, boolean shared) {
        this.options = options;
        this.shared = shared;
        this.target = target;
        this.stub = stub;
        this.channel = channel;
        this.onClose = onClose;
        this.backoff = new Backoff(options.initialBackoff(), options.maxBackoff());
        this.inbox = new Inbox(options.creditWindow(), io);
        this.acker = new Acknowledger(lock, options, shared);
        this.thread = Thread.ofVirtual().name("sluice-subscription-" + options.topic()).unstarted(this::run);
    }

    /** {@code shared}: a SHARED group (competing consumers): acks settle exactly their message. */
    static Subscription open(SubscriptionOptions options, String target, SluiceGrpc.SluiceStub stub,
                             ManagedChannel channel, EventExecutor io, Consumer<Subscription> onClose,
                             boolean shared) {
        var s = new Subscription(options, target, stub, channel, io, onClose, shared);
        s.thread.start();
        return s;
    }

    public SubscriptionOptions options() {
        return options;
    }

    /** How many times a lost stream was replaced by a new one. */
    public int reconnects() {
        return reconnects.get();
    }

    /** False once the subscription is closed or has failed. */
    public boolean isOpen() {
        lock.lock();
        try {
            return !acker.closing() && failure == null;
        } finally {
            lock.unlock();
        }
    }

    // ---- receiving (application threads) ----

    /**
     * The next message; blocks until one arrives.
     *
     * @throws SluiceClientException  the failure that ended the subscription (taken over, topic
     *                                deleted, a bad name, or no broker for too long)
     * @throws IllegalStateException  when the subscription was closed
     * @throws InterruptedException   when the waiting thread is interrupted
     */
    public Message receive() throws InterruptedException {
        Inbox.Inbound in = take(-1);
        if (in == Inbox.END) {
            throw ended();
        }
        return in.message();
    }

    /**
     * The next message, or empty when none arrives within {@code timeout}. Throws like {@link #receive()}.
     */
    public Optional<Message> receive(Duration timeout) throws InterruptedException {
        Inbox.Inbound in = take(Math.max(0, timeout.toNanos()));
        if (in == Inbox.END) {
            throw ended();
        }
        return in == null ? Optional.empty() : Optional.of(in.message());
    }

    /**
     * The messages as they arrive: {@code hasNext()} blocks like {@link #receive()} and answers false
     * once the subscription is closed; it throws the failure that ended it, and a
     * {@link SluiceClientException} with status CANCELLED (the interrupt flag set again) when interrupted.
     */
    @Override
    public Iterator<Message> iterator() {
        return new MessageIterator(() -> take(-1), () -> failure, target);
    }

    /** The next inbound item, END once ended, null on timeout ({@code timeoutNanos < 0}: no timeout). */
    private Inbox.Inbound take(long timeoutNanos) throws InterruptedException {
        Stream s = acker.current();
        if (s != null) {
            s.refill();
        }
        return inbox.take(timeoutNanos);
    }

    private RuntimeException ended() {
        SluiceClientException f = failure;
        return f != null ? f : new IllegalStateException("the subscription to " + options.topic() + " is closed");
    }

    /** From gRPC's callback thread: queues a delivery unless the window is already full. */
    private boolean accept(Stream from, Message message) {
        if (inbox.accept(from, message)) {
            return true;
        }
        LOG.log(Level.WARNING, "the broker at " + target + " sent more messages than the credit granted on "
                + options.topic() + "; reopening the stream");
        return false;
    }

    // ---- acknowledging (application threads) ----

    /**
     * Acknowledges {@code message} and, cumulatively, every earlier message of the topic for this
     * group. Never blocks. Acks are sent in batches, as one ack of the highest message (acks are
     * cumulative): at once when half the credit window is waiting, else at the latest 20 ms
     * later; {@link #close()} sends
     * the last one. An ack made while the subscription is reconnecting is sent on the next stream; one
     * lost with a broken stream means the messages come again (at-least-once). In a shared group
     * ({@link SluiceClient#subscribeShared}) an ack settles exactly this message; they are batched
     * the same way and sent as one BatchAck.
     *
     * @throws IllegalStateException on a browse subscription, or once closed
     * @throws IllegalArgumentException for a message another subscription received
     */
    public void ack(Message message) {
        acker.ack(own(message));
    }

    /** {@code message}, when this subscription received it; else IllegalArgumentException. */
    private Message own(Message message) {
        if (message.receivedBy != this) {
            throw new IllegalArgumentException("message " + message.id() + " was not received by this subscription"
                    + " (topic " + options.topic() + "): only the subscription that received it can settle it");
        }
        return message;
    }

    /**
     * Asks the broker to deliver {@code message} again on this stream after {@code delay}, with its
     * delivery count one higher. Never blocks. While reconnecting it does nothing: an unacknowledged
     * message comes again on the next stream anyway.
     *
     * @throws IllegalStateException on a browse subscription, or once closed
     */
    public void nack(Message message, Duration delay) {
        acker.nack(own(message), delay);
    }

    /**
     * Shared groups: the message is still being worked on; its lease starts again (InProgress). Never
     * blocks; does nothing while reconnecting (the lease went with the old stream).
     *
     * @throws IllegalStateException on a browse subscription, or once closed
     */
    public void inProgress(Message message) {
        acker.inProgress(own(message));
    }

    /**
     * The message is not to be delivered again (Term): the broker moves it to the group's dead-letter
     * topic with {@code reason} as {@code sluice.dlq.detail}, or only settles it when the group has none.
     *
     * @throws IllegalStateException on a browse subscription, or once closed
     */
    public void term(Message message, String reason) {
        acker.term(own(message), reason);
    }

    /** True for a subscription to a SHARED group. */
    public boolean isShared() {
        return shared;
    }

    // ---- the connection loop (its own thread) ----

    private void run() {
        long lostSince = System.nanoTime();
        int attempt = 0;
        SluiceClientException fatal = null;
        try {
            for (boolean first = true; ; first = false) {
                Stream s = openStream(first);
                if (s == null) {
                    break;
                }
                while (!s.awaitEnd(ACK_DELAY.toNanos())) {
                    acker.flush();
                }
                detach(s);
                if (isClosing()) {
                    break;
                }
                if (!s.retryable()) {
                    fatal = SluiceClientException.of(s.status(), s.streamError(), target);
                    break;
                }
                if (s.wasLive()) {
                    attempt = 0;
                    lostSince = s.endedNanos();
                }
                long down = System.nanoTime() - lostSince;
                if (down >= options.reconnectFor().toNanos()) {
                    fatal = gaveUp(s.status());
                    break;
                }
                long pause = Math.min(backoff.pauseNanos(attempt++), options.reconnectFor().toNanos() - down);
                Status why = s.status();
                LOG.log(Level.DEBUG, () -> "subscription to " + options.topic() + " lost its stream ("
                        + SluiceClientException.describe(why, target) + "); reconnecting in "
                        + TimeUnit.NANOSECONDS.toMillis(pause) + " ms");
                if (!pause(pause)) {
                    break;
                }
                channel.resetConnectBackoff();   // our backoff paces reconnects, not the channel's
            }
        } catch (InterruptedException e) {
            fatal = SluiceClientException.of(Status.CANCELLED.withDescription("the subscription thread was interrupted"),
                    null, target);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "subscription to " + options.topic() + " failed", e);
            fatal = SluiceClientException.of(Status.INTERNAL.withDescription("the subscription failed: " + e)
                    .withCause(e), null, target);
        }
        lock.lock();
        try {
            if (!acker.closing()) {
                failure = fatal;
            }
        } finally {
            lock.unlock();
        }
        inbox.end();
    }

    /** Opens a stream: init, any ack made while there was none, then the window's credit. Null once closing. */
    private Stream openStream(boolean first) {
        lock.lock();
        try {
            if (acker.closing()) {
                return null;
            }
            if (!first) {
                reconnects.incrementAndGet();
            }
            long budget = options.maxMessages() == 0 ? Long.MAX_VALUE
                    : Math.max(0, options.maxMessages() - inbox.handedOut());
            var s = new Stream(this, this::accept, options.creditWindow(), budget);
            // Its callbacks only queue (never block, never run application code), so they run where
            // gRPC reads the stream instead of costing a hop to another thread per batch of messages.
            stub.withExecutor(Runnable::run).subscribe(s);
            var init = options.init(inbox.lastSequence() + 1);
            if (shared) {
                init = init.toBuilder().setMode(io.sluice.proto.SubscriptionMode.SHARED).build();
            }
            s.send(SubscribeUpstream.newBuilder().setInit(init).build());
            s.open(options.creditWindow());
            acker.attach(s);   // with any ack made while there was no stream
            return s;
        } finally {
            lock.unlock();
        }
    }

    /** Forgets an ended stream and drops its deliveries not yet handed out: they come again. */
    private void detach(Stream s) {
        acker.detach(s);
        inbox.dropFrom(s);
    }

    private boolean isClosing() {
        lock.lock();
        try {
            return acker.closing();
        } finally {
            lock.unlock();
        }
    }

    /** Waits {@code nanos} before the next attempt; false when closed meanwhile. */
    private boolean pause(long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        lock.lock();
        try {
            while (!acker.closing()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return true;
                }
                wake.awaitNanos(left);
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    private SluiceClientException gaveUp(Status last) {
        long millis = options.reconnectFor().toMillis();
        String after = millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
        return SluiceClientException.of(Status.UNAVAILABLE.withDescription("gave up reconnecting after " + after
                + ": " + SluiceClientException.detail(last, target)), null, target);
    }

    // ---- closing ----

    /**
     * Closes the subscription: waits (up to 2 s) until the broker shows the last ack sent committed
     * (a shared group: answers an AckSync; an exclusive one: shows its cursor there), since a cancel
     * could otherwise overtake it, then cancels the stream and stops the connection thread. Receivers
     * waiting get {@link IllegalStateException} (the iterator ends). Idempotent.
     */
    @Override
    public void close() {
        Stream s;
        lock.lock();
        try {
            if (acker.closing()) {
                return;
            }
            s = acker.beginClose();
            wake.signalAll();
        } finally {
            lock.unlock();
        }
        if (s != null) {
            acker.confirm(s);
            s.cancel("the subscription was closed");
        }
        try {
            if (!thread.join(JOIN_WAIT)) {
                LOG.log(Level.WARNING, "the subscription thread for " + options.topic() + " did not stop in "
                        + JOIN_WAIT.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        inbox.end();
        onClose.accept(this);
    }
}
