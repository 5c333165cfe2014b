package io.sluice.client;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One PublishStream call of a {@link Pipeline}. Sends come from whichever thread holds the pipeline's
 * send lock (the client's I/O thread, mostly); they never block. gRPC calls {@link #onNext} on that I/O thread,
 * which matches each answer to the oldest unanswered request (the broker answers in request order)
 * and hands both to the {@link Listener}, and {@link #onError}/{@link #onCompleted}, which hand over
 * every request still unanswered. {@link #lock} guards only the line of unanswered requests.
 */
final class PublishCall implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {

    /**
     * One publish on its way to an answer: its request (with its id, and any dedup id and expected last
     * sequence), its slot size, its deadline, and its future: a {@link Published}, or, when the caller
     * gave {@link PublishGuarantees}, a {@link PublishOutcome} that says whether it was a duplicate.
     */
    static final class Pending {
        final PublishStreamRequest request;
        final long bytes;
        final long deadlineNanos;
        /** The caller's future without guarantees, else null. */
        final CompletableFuture<Published> future;
        /** The caller's future with guarantees, else null. */
        final CompletableFuture<PublishOutcome> outcome;
        /** A blocking publish waits on the future and nothing is chained to it: it may complete on the I/O thread. */
        final boolean waiting;
        long firstSentNanos;   // written under the pipeline's send lock before the request is sent
        boolean duplicate;               // set before the future completes (or the Completer queues it)
        Published answer;                // set before the Completer queues it, read after
        SluiceClientException error;     // set before the Completer queues it, read after

        Pending(long id, String topic, byte[] payload, Map<String, String> attributes,
                PublishGuarantees guarantees, long deadlineNanos, boolean waiting) {
            this.waiting = waiting;
            var builder = PublishStreamRequest.newBuilder().setRequestId(id).setTopic(topic)
                    .setPayload(ByteString.copyFrom(payload));
            if (!attributes.isEmpty()) {
                builder.putAllAttributes(attributes);
            }
            if (guarantees != null) {
                if (guarantees.dedupId() != null) {
                    builder.setDedupId(guarantees.dedupId());
                }
                guarantees.expectedLastSequence().ifPresent(builder::setExpectedLastSequence);
            }
            this.request = builder.build();
            this.bytes = payload.length;
            this.deadlineNanos = deadlineNanos;
            this.future = guarantees == null ? new CompletableFuture<>() : null;
            this.outcome = guarantees == null ? null : new CompletableFuture<>();
        }

        boolean expired(long nowNanos) {
            return nowNanos - deadlineNanos >= 0;
        }

        /** Completes the caller's future with the answer ({@link #duplicate} set before). */
        void complete(Published published) {
            if (future != null) {
                future.complete(published);
            } else {
                outcome.complete(new PublishOutcome(published, duplicate));
            }
        }

        void fail(SluiceClientException e) {
            if (future != null) {
                future.completeExceptionally(e);
            } else {
                outcome.completeExceptionally(e);
            }
        }
    }

    /** What becomes of answers and of the end; called on the client's I/O thread. */
    interface Listener {
        void answered(PublishCall call, Pending pending, PublishStreamResponse response);

        /** The call ended with {@code status}; {@code unanswered} were sent and got no answer, in send order. */
        void ended(PublishCall call, Status status, List<Pending> unanswered);
    }

    private final Listener listener;
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Pending> line = new ArrayDeque<>();   // guarded by lock: sent, unanswered, in order
    private boolean ended;                                         // guarded by lock
    private ClientCallStreamObserver<PublishStreamRequest> upstream;   // set before start; used by the sender
    private volatile long answered;

    PublishCall(Listener listener) {
        this.listener = listener;
    }

    // ---- sends (the holder of the pipeline's send lock) ----

    /** Sends {@code p}; false, without sending, when the call has already ended. */
    boolean send(Pending p) {
        lock.lock();
        try {
            if (ended) {
                return false;
            }
            line.add(p);
        } finally {
            lock.unlock();
        }
        try {
            upstream.onNext(p.request);
        } catch (RuntimeException e) {
            // Cancelled under us: the end arrives through onError and hands p over with the rest.
        }
        return true;
    }

    /** No more requests: the broker answers the ones sent, then ends the call. */
    void halfClose() {
        try {
            upstream.onCompleted();
        } catch (RuntimeException e) {
            // already ended
        }
    }

    /** Ends the call; the end arrives through {@link #onError}. */
    void cancel(String why) {
        upstream.cancel(why, null);
    }

    boolean isEnded() {
        lock.lock();
        try {
            return ended;
        } finally {
            lock.unlock();
        }
    }

    /** The oldest request sent and not answered, or null. */
    Pending oldest() {
        lock.lock();
        try {
            return line.peek();
        } finally {
            lock.unlock();
        }
    }

    /** How many answers arrived on this call. */
    long answered() {
        return answered;
    }

    // ---- gRPC callbacks ----

    @Override
    public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requestStream) {
        upstream = requestStream;
    }

    @Override
    public void onNext(PublishStreamResponse response) {
        Pending head;
        lock.lock();
        try {
            head = line.peek();
            if (head != null && head.request.getRequestId() == response.getRequestId()) {
                line.poll();
            } else {
                head = null;
            }
        } finally {
            lock.unlock();
        }
        if (head == null) {
            cancel("the broker answered request " + response.getRequestId() + " out of order");
            return;
        }
        answered++;   // only this callback thread writes it
        listener.answered(this, head, response);
    }

    @Override
    public void onError(Throwable t) {
        end(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
        end(Status.UNAVAILABLE.withDescription("the broker ended the publish stream"));
    }

    private void end(Status status) {
        List<Pending> unanswered;
        lock.lock();
        try {
            ended = true;
            unanswered = new ArrayList<>(line);
            line.clear();
        } finally {
            lock.unlock();
        }
        listener.ended(this, status, unanswered);
    }
}
