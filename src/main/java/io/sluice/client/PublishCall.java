package io.sluice.client;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One PublishStream call of a {@link Pipeline}. Sends come from whichever thread holds the pipeline's
 * send lock (the client's I/O thread, mostly); they never block. gRPC calls {@link #onNext} on that I/O thread,
 * which matches each answer to the oldest unanswered request (the broker answers in request order)
 * and hands both to the {@link Listener}, and {@link #onError}/{@link #onCompleted}, which hand over
 * every request still unanswered. The line of unanswered requests is a lock-free queue: the sender
 * appends, the answering thread takes the head, and the end takes what is left.
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
        /** Sent on a stream that reached the broker and ended without its answer: it may have been stored. */
        boolean maybeStored;   // the I/O thread
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
    /** Sent and unanswered, in send order: one sender at a time adds, the answering thread takes the head. */
    private final ConcurrentLinkedQueue<Pending> line = new ConcurrentLinkedQueue<>();
    private volatile boolean ended;
    private ClientCallStreamObserver<PublishStreamRequest> upstream;   // set before start; used by the sender
    private volatile long answered;
    private volatile ClientCall<?, ?> grpcCall;   // the call under the stream, to see whether it reached a broker

    PublishCall(Listener listener) {
        this.listener = listener;
    }

    /** For the stub that starts this call: notes the gRPC call under it ({@link #reachedBroker}). */
    ClientInterceptor binding() {
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options,
                                                         Channel next) {
                ClientCall<Q, R> c = next.newCall(method, options);
                grpcCall = c;
                return c;
            }
        };
    }

    /**
     * True once the call was given a connection to a broker (only then can a request have left): gRPC
     * gives a call a connection only once it is ready, with the connection's address among the call's
     * attributes; a call that waited for one and failed has none.
     */
    boolean reachedBroker() {
        ClientCall<?, ?> c = grpcCall;
        return c == null || c.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) != null;
    }

    // ---- sends (the holder of the pipeline's send lock) ----

    /** Sends {@code p}; false, without sending, when the call has already ended. */
    boolean send(Pending p) {
        if (ended) {
            return false;
        }
        line.add(p);
        if (ended && line.remove(p)) {
            return false;   // the end came meanwhile and did not take p: not sent
        }
        // (When the end took p, it hands p over with the rest; sending it on an ended call does nothing.)
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
        return ended;
    }

    /** The oldest request sent and not answered, or null. */
    Pending oldest() {
        return line.peek();
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
        Pending head = line.peek();   // only this thread takes from the line while the call is open
        if (head != null && head.request.getRequestId() == response.getRequestId()) {
            line.poll();
        } else {
            head = null;
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
        ended = true;   // before taking the line: a send that added after this sees it and takes its request back
        List<Pending> unanswered = new ArrayList<>();
        for (Pending p; (p = line.poll()) != null; ) {
            unanswered.add(p);
        }
        listener.ended(this, status, unanswered);
    }
}
