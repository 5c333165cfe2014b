package io.sluice.client;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.Ack;
import io.sluice.proto.AckSync;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.Nack;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Subscribe call of a {@link Subscription}. gRPC's callback thread calls the observer methods:
 * a delivery goes to the {@link Sink} (the subscription's queue), a heartbeat only shows the stream
 * works, a {@code StreamError} is remembered for the status that follows, an {@code AckSynced} answers
 * {@link #sync}, and the end counts down {@link #ended}. Sends (init, credit, ack, nack, sync, cancel)
 * come from the subscription's connection thread and the application's threads; a call's request
 * observer is not thread-safe, so they are serialised by {@link #sendLock}, and none of them blocks.
 */
final class Stream implements ClientResponseObserver<SubscribeUpstream, SubscribeDownstream> {
    /** A stream that stayed open this long was accepted by the broker, even if it carried nothing. */
    private static final long LIVE_AFTER_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** Where deliveries go; false when the window is already full (the broker broke the credit contract). */
    interface Sink {
        boolean accept(Stream from, Message message);
    }

    private final Sink sink;
    private final Object owner;   // the subscription its messages are received by
    private final int chunk;
    private final long startedNanos = System.nanoTime();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final CountDownLatch syncedOrEnded = new CountDownLatch(1);
    private volatile boolean synced;

    private final ReentrantLock sendLock = new ReentrantLock();
    private ClientCallStreamObserver<SubscribeUpstream> upstream;   // guarded by sendLock
    private boolean open = true;                                    // guarded by sendLock
    private long budget;                                            // guarded by sendLock: credit it may still grant

    private final AtomicInteger handedOut = new AtomicInteger();   // handed out since credit was last granted
    private volatile boolean carried;
    private volatile String streamError;
    private volatile Status status;
    private volatile long endedNanos;

    /**
     * A stream whose credit is granted back in chunks of about a quarter of {@code window}, and which
     * grants at most {@code budget} credits in all. A quarter, not a half: while the grant travels to
     * the broker and its next deliveries travel back, the broker still holds the credit of three
     * quarters of the window, so a consumer that keeps up does not find it waiting for credit.
     */
    Stream(Object owner, Sink sink, int window, long budget) {
        this.owner = owner;
        this.sink = sink;
        this.chunk = Math.max(1, window / 4);
        this.budget = budget;
    }

    // ---- sends (any thread) ----

    /** Sends one upstream message; false once the stream is over. */
    boolean send(SubscribeUpstream message) {
        sendLock.lock();
        try {
            if (!open) {
                return false;
            }
            upstream.onNext(message);
            return true;
        } catch (IllegalStateException e) {
            open = false;   // cancelled or closed meanwhile
            return false;
        } finally {
            sendLock.unlock();
        }
    }

    /** Grants the first credit: the window, or less if the budget is smaller. */
    void open(int window) {
        sendLock.lock();
        try {
            int credits = (int) Math.min(window, budget);
            if (credits > 0) {
                budget -= credits;
                grant(credits);
            }
        } finally {
            sendLock.unlock();
        }
    }

    private boolean grant(int credits) {
        return send(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(credits)).build());
    }

    boolean ack(String messageId) {
        return send(SubscribeUpstream.newBuilder().setAck(Ack.newBuilder().setMessageId(messageId)).build());
    }

    boolean batchAck(java.util.List<String> messageIds) {
        return send(SubscribeUpstream.newBuilder().setBatchAck(io.sluice.proto.BatchAck.newBuilder()
                .addAllMessageIds(messageIds)).build());
    }

    boolean inProgress(String messageId) {
        return send(SubscribeUpstream.newBuilder().setInProgress(io.sluice.proto.InProgress.newBuilder()
                .setMessageId(messageId)).build());
    }

    boolean term(String messageId, String reason) {
        return send(SubscribeUpstream.newBuilder().setTerm(io.sluice.proto.Term.newBuilder().setMessageId(messageId)
                .setReason(reason)).build());
    }

    boolean nack(String messageId, long delayMillis) {
        int delay = (int) Math.min(delayMillis, 0xFFFF_FFFFL);   // uint32 on the wire
        return send(SubscribeUpstream.newBuilder().setNack(Nack.newBuilder().setMessageId(messageId)
                .setRedeliveryDelayMs(delay)).build());
    }

    /** One message of this stream was handed to the application. */
    void handedOut() {
        handedOut.incrementAndGet();
    }

    /**
     * Grants back the credit of the messages handed out, once they make a chunk. Called when the
     * application asks for its next message, so a consumer that stops asking stops the flow.
     */
    void refill() {
        if (handedOut.get() < chunk) {
            return;   // the common case, without the lock
        }
        sendLock.lock();
        try {
            int n = handedOut.get();
            if (open && n >= chunk) {
                int credits = (int) Math.min(n, budget);
                handedOut.addAndGet(-n);
                if (credits > 0) {
                    budget -= credits;
                    grant(credits);
                }
            }
        } finally {
            sendLock.unlock();
        }
    }

    /** Cancels the call; the end arrives through {@link #onError}. Idempotent. */
    void cancel(String why) {
        sendLock.lock();
        try {
            if (open) {
                open = false;
                upstream.cancel(why, null);
            }
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Asks the broker to answer once the settles sent so far are applied (one AckSync per stream);
     * false once the stream is over.
     */
    boolean sync() {
        return send(SubscribeUpstream.newBuilder().setSync(AckSync.newBuilder().setId(1)).build());
    }

    /**
     * Waits at most {@code nanos} for the answer to {@link #sync}: false when it did not come (the
     * stream ended, or the wait ran out).
     */
    boolean awaitSynced(long nanos) {
        try {
            syncedOrEnded.await(nanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return synced;
    }

    // ---- gRPC callbacks ----

    @Override
    public void beforeStart(ClientCallStreamObserver<SubscribeUpstream> requestStream) {
        sendLock.lock();
        try {
            upstream = requestStream;
        } finally {
            sendLock.unlock();
        }
    }

    @Override
    public void onNext(SubscribeDownstream value) {
        switch (value.getResponseCase()) {
            case DELIVERY -> {
                carried = true;
                if (!sink.accept(this, Message.of(value.getDelivery(), owner))) {
                    cancel("the broker sent more messages than the credit granted");
                }
            }
            case DELIVERIES -> {
                carried = true;
                for (MessageDelivery d : value.getDeliveries().getDeliveriesList()) {
                    if (!sink.accept(this, Message.of(d, owner))) {
                        cancel("the broker sent more messages than the credit granted");
                        return;
                    }
                }
            }
            case HEARTBEAT -> carried = true;
            case SYNCED -> {
                synced = true;
                syncedOrEnded.countDown();
            }
            case ERROR -> streamError = value.getError().getCode();
            case RESPONSE_NOT_SET -> {
                // a newer broker's message this client does not know: nothing to do
            }
        }
    }

    @Override
    public void onError(Throwable t) {
        finish(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
        finish(Status.UNAVAILABLE.withDescription("the broker ended the stream"));
    }

    private void finish(Status end) {
        status = end;
        endedNanos = System.nanoTime();
        sendLock.lock();
        try {
            open = false;
        } finally {
            sendLock.unlock();
        }
        ended.countDown();
        syncedOrEnded.countDown();
    }

    // ---- the outcome (connection thread) ----

    /** Blocks until the call has ended (closed by the broker, lost, or cancelled), at most {@code nanos}. */
    boolean awaitEnd(long nanos) throws InterruptedException {
        return ended.await(nanos, TimeUnit.NANOSECONDS);
    }

    Status status() {
        return status;
    }

    /** The code of the StreamError that preceded the end, or null. */
    String streamError() {
        return streamError;
    }

    /** True when the broker accepted the stream: something arrived, or it stayed open a while. */
    boolean wasLive() {
        return carried || endedNanos - startedNanos >= LIVE_AFTER_NANOS;
    }

    long endedNanos() {
        return endedNanos;
    }

    /**
     * True when opening a new stream may help: the broker was unreachable, lost, restarting
     * ({@code SHUTTING_DOWN}) or reset the stream. Takeover, a deleted topic and refused requests are final.
     */
    boolean retryable() {
        if ("SHUTTING_DOWN".equals(streamError) || "CURSOR_RESET".equals(streamError)) {
            return true;   // the broker is going (another may serve), or the group goes on from its new cursor
        }
        if (streamError != null) {
            return false;
        }
        return status.getCode() == Status.Code.UNAVAILABLE || status.getCode() == Status.Code.CANCELLED;
    }
}
