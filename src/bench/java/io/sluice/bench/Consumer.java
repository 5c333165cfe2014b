package io.sluice.bench;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.Ack;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.Nack;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Subscribe stream in CONSUMER_GROUP mode from the earliest message. With a {@code window}, it
 * grants that much credit at the start and tops it up in quarters as deliveries arrive; with none, only
 * {@link #grant} gives credit. Every {@code ackEvery}-th delivery is acked (acks are cumulative).
 *
 * <p>Deliveries arrive on the channel's event loop and must not block there; upstream messages are
 * sent under {@code sending} because {@link #grant} may come from a timer thread. A waiter in
 * {@link #awaitReceived} is woken (under {@code lock}) when the count it waits for is reached or the
 * stream ends, and looks at the progress once a second meanwhile.
 */
final class Consumer implements ClientResponseObserver<SubscribeUpstream, SubscribeDownstream> {
    /** Called on the event loop for each delivery, with the time it arrived. */
    interface Listener {
        void delivered(MessageDelivery delivery, long arrivedNanos);
    }

    private final String topic;
    private final String group;
    private final int window;
    private final int ackEvery;
    private final Listener listener;
    private final ReentrantLock sending = new ReentrantLock();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition progress = lock.newCondition();
    private ClientCallStreamObserver<SubscribeUpstream> upstream;
    private int ungranted;                       // event loop only
    private volatile long received;              // written by the event loop only
    private volatile long firstNanos;
    private volatile long lastNanos;
    private volatile long waitingFor = Long.MAX_VALUE;
    private volatile String ended;               // why the stream ended, null while open
    private boolean shared;                      // set before start: a SHARED stream acking each message
    private boolean nackAll;                     // set before start: a SHARED stream nacking each message

    Consumer(String topic, String group, int window, int ackEvery, Listener listener) {
        this.topic = topic;
        this.group = group;
        this.window = window;
        this.ackEvery = ackEvery;
        this.listener = listener;
    }

    /**
     * Makes this a stream of a SHARED group (before {@link #start}): every delivery is acked on its own,
     * or, with {@code nackAll}, nacked (it comes back after the group's backoff).
     */
    Consumer shared(boolean nackEverything) {
        this.shared = true;
        this.nackAll = nackEverything;
        return this;
    }

    /** Opens the stream and sends init and the first credit. */
    Consumer start(SluiceGrpc.SluiceStub stub) {
        stub.subscribe(this);
        send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder()
                .setTopic(topic)
                .setConsumerGroup(group)
                .setConsumerId("bench")
                .setMode(shared ? SubscriptionMode.SHARED : SubscriptionMode.CONSUMER_GROUP)
                .setInitialPosition(InitialPosition.EARLIEST)).build());
        if (window > 0) {
            grant(window);
        }
        return this;
    }

    void grant(int credits) {
        send(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(credits)).build());
    }

    private void send(SubscribeUpstream message) {
        sending.lock();
        try {
            if (ended == null) {
                upstream.onNext(message);
            }
        } finally {
            sending.unlock();
        }
    }

    long received() {
        return received;
    }

    /** When the first delivery arrived (System.nanoTime), 0 before. */
    long firstNanos() {
        return firstNanos;
    }

    /** When the last delivery arrived (System.nanoTime), 0 before the first. */
    long lastNanos() {
        return lastNanos;
    }

    /** Why the stream ended, or null while it is open. */
    String ended() {
        return ended;
    }

    /**
     * Waits until {@code count} deliveries have arrived: false when none arrived for {@code stall}
     * nanoseconds, the deadline passed, or the stream ended first.
     */
    boolean awaitReceived(long count, long stallNanos, long deadline) throws InterruptedException {
        lock.lock();
        try {
            waitingFor = count;
            long seen = received;
            long lastProgress = System.nanoTime();
            while (received < count) {
                if (ended != null) {
                    return false;
                }
                long now = System.nanoTime();
                if (received != seen) {
                    seen = received;
                    lastProgress = now;
                } else if (now - lastProgress > stallNanos) {
                    return false;
                }
                if (now - deadline > 0) {
                    return false;
                }
                progress.await(Math.min(TimeUnit.SECONDS.toNanos(1), Math.max(1, deadline - now)),
                        TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            waitingFor = Long.MAX_VALUE;
            lock.unlock();
        }
    }

    /** Ends the stream (a cancel: the broker keeps the group's cursor at the last ack). */
    void close() {
        sending.lock();
        try {
            if (ended == null) {
                ended = "closed by the benchmark";
                upstream.cancel("benchmark over", null);
            }
        } finally {
            sending.unlock();
        }
        signalEnd(ended);
    }

    // ---- the call's callbacks (event loop) ----

    @Override
    public void beforeStart(ClientCallStreamObserver<SubscribeUpstream> requestStream) {
        upstream = requestStream;
    }

    @Override
    public void onNext(SubscribeDownstream message) {
        if (message.hasError()) {
            signalEnd("StreamError " + message.getError().getCode() + ": " + message.getError().getMessage());
            return;
        }
        if (!message.hasDelivery()) {
            return;   // a heartbeat
        }
        long now = System.nanoTime();
        MessageDelivery d = message.getDelivery();
        if (listener != null) {
            listener.delivered(d, now);
        }
        long n = received + 1;
        if (n == 1) {
            firstNanos = now;
        }
        lastNanos = now;
        received = n;
        if (nackAll) {
            send(SubscribeUpstream.newBuilder().setNack(Nack.newBuilder().setMessageId(d.getMessageId())).build());
        } else if (shared || n % ackEvery == 0) {
            send(SubscribeUpstream.newBuilder().setAck(Ack.newBuilder().setMessageId(d.getMessageId())).build());
        }
        if (window > 0 && ++ungranted >= Math.max(1, window / 4)) {
            grant(ungranted);
            ungranted = 0;
        }
        if (n >= waitingFor) {
            lock.lock();
            try {
                progress.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    @Override
    public void onError(Throwable t) {
        signalEnd(ClosedLoop.describe(t));
    }

    @Override
    public void onCompleted() {
        signalEnd(Status.OK.getCode().toString());
    }

    private void signalEnd(String why) {
        lock.lock();
        try {
            if (ended == null) {
                ended = why;
            }
            progress.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
