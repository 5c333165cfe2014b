package io.sluice.server;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.trace.Span;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.SluiceException;
import io.sluice.store.Store;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One PublishStream call: pipelined durable publishes. Requests are handled where they arrive (the
 * transport thread: this method runs on a direct executor) and only validated and queued to the
 * writer; each answer is sent once its message is committed, in request order, by whichever thread
 * completes the head of the line (the writer thread, or the transport thread for a request refused
 * outright). A bad request fails alone: its answer carries the status code and message.
 *
 * <p>Flow control is manual: the stream asks gRPC for more requests only while fewer than
 * {@link #WINDOW} messages and {@link #MAX_IN_FLIGHT_BYTES} bytes are waiting for their commit, so a
 * full writer stops the reading of this stream and transport flow control pushes back on the
 * producer. Nothing here blocks.
 */
final class PublishStreamHandler implements StreamObserver<PublishStreamRequest> {
    private static final System.Logger LOG = System.getLogger(PublishStreamHandler.class.getName());
    /** Most requests of one stream waiting for their commit. */
    static final int WINDOW = 4096;
    /** Most payload bytes of one stream waiting for their commit (one larger message is still taken). */
    static final long MAX_IN_FLIGHT_BYTES = 16L << 20;

    private final Store store;
    private final Publisher publisher;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final ServerCallStreamObserver<PublishStreamResponse> out;


    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Entry> line = new ArrayDeque<>();   // guarded by lock: answers in request order
    private long inFlightBytes;                                  // guarded by lock
    private int outstanding;                                     // guarded by lock: requested, not yet received
    private boolean halfClosed;                                  // guarded by lock
    private boolean stopping;                                    // guarded by lock: the broker is shutting down
    private boolean finished;                                    // guarded by lock

    /** {@code open} holds the streams open now: this one adds itself and leaves when its call ends. */
    PublishStreamHandler(Store store, Publisher publisher, StreamObserver<PublishStreamResponse> responses,
                         Set<PublishStreamHandler> open) {
        this.store = store;
        this.publisher = publisher;
        this.metrics = publisher.metrics();
        this.tracing = publisher.tracing();
        this.out = (ServerCallStreamObserver<PublishStreamResponse>) responses;
        out.disableAutoRequest();
        out.setOnCancelHandler(() -> {
            open.remove(this);
            cancelled();
        });
        out.setOnCloseHandler(() -> open.remove(this));
        open.add(this);
        lock.lock();
        try {
            requestMore();
        } finally {
            lock.unlock();
        }
    }

    /** One request on its way to an answer. Completed by the writer thread. */
    private final class Entry implements Completion<List<Appended>> {
        final long requestId;
        final String topic;
        final long bytes;
        final long startedNanos = System.nanoTime();
        Span span = Span.getInvalid();
        PublishStreamResponse response;   // guarded by lock; null until answered

        Entry(long requestId, String topic, long bytes) {
            this.requestId = requestId;
            this.topic = topic;
            this.bytes = bytes;
        }

        @Override
        public void committed(List<Appended> result) {
            Appended a = result.getFirst();
            String id = a.id().toString();
            Tracing.published(span, id, a.sequence());
            metrics.published(topic, 1, System.nanoTime() - startedNanos);
            answer(this, PublishStreamResponse.newBuilder()
                    .setRequestId(requestId)
                    .setMessageId(id)
                    .setSequence(a.sequence())
                    .setTimestamp(a.timestamp())
                    .build());
        }

        @Override
        public void failed(SluiceException error) {
            Tracing.failed(span, error);
            answer(this, refusal(requestId, error));
        }
    }

    @Override
    public void onNext(PublishStreamRequest request) {
        if (request == null) {   // a message that did not parse (RequestParsing): the stream ends with its status
            refuseStream(RequestParsing.malformed());
            return;
        }
        long bytes = request.getPayload().size();
        var entry = new Entry(request.getRequestId(), request.getTopic(), bytes);
        boolean refused;
        lock.lock();
        try {
            outstanding--;
            if (finished) {
                return;
            }
            line.add(entry);
            inFlightBytes += bytes;
            refused = stopping;
        } finally {
            lock.unlock();
        }
        if (refused) {
            answer(entry, refusal(request.getRequestId(),
                    new SluiceException.Unavailable("the broker is shutting down")));
            return;
        }
        NewMessage message;
        try {
            message = publisher.check(request.getTopic(), request.getPayload(), request.getAttributesMap());
        } catch (SluiceException e) {
            answer(entry, refusal(request.getRequestId(), e));
            return;
        }
        entry.span = tracing.startPublish(request.getTopic(), request.getAttributesMap());
        store.appendPaced(request.getTopic(), message, entry);
    }

    /** Ends the stream with {@code status}; answers still pending are not sent (their writes may be stored). */
    private void refuseStream(io.grpc.Status status) {
        lock.lock();
        try {
            outstanding--;
            if (finished) {
                return;
            }
            finished = true;
            out.onError(status.asRuntimeException());
        } catch (RuntimeException e) {
            finished = true;   // the call ended under us
        } finally {
            lock.unlock();
        }
    }

    private static PublishStreamResponse refusal(long requestId, SluiceException e) {
        return PublishStreamResponse.newBuilder()
                .setRequestId(requestId)
                .setErrorCode(Statuses.codeOf(e).value())
                .setErrorMessage(e.getMessage())
                .build();
    }

    /** Records an answer and sends every answer now complete at the head of the line. */
    private void answer(Entry entry, PublishStreamResponse response) {
        lock.lock();
        try {
            entry.response = response;
            inFlightBytes -= entry.bytes;
            Entry head;
            while ((head = line.peek()) != null && head.response != null) {
                line.poll();
                if (!finished) {
                    out.onNext(head.response);
                }
            }
            if (!finished && halfClosed && line.isEmpty()) {
                finished = true;
                out.onCompleted();
                return;
            }
            if (!finished && stopping && line.isEmpty()) {
                finished = true;
                out.onError(Statuses.shuttingDown());
                return;
            }
            requestMore();
        } catch (RuntimeException e) {
            // The call ended under us (cancelled): nothing more can be sent.
            finished = true;
            LOG.log(Level.DEBUG, () -> "publish stream closed while answering: " + e);
        } finally {
            lock.unlock();
        }
    }

    /** Asks for more requests while the window and byte budget allow; in chunks, so not once per message. */
    private void requestMore() {
        if (finished || halfClosed || stopping || inFlightBytes >= MAX_IN_FLIGHT_BYTES) {
            return;
        }
        int waiting = line.size() + outstanding;
        int room = WINDOW - waiting;
        if (room >= WINDOW / 8 || (waiting == 0 && room > 0)) {
            outstanding += room;
            out.request(room);
        }
    }

    /**
     * The broker is shutting down (called by the closing thread): requests already taken are
     * answered as their commits complete, any that still arrive are refused with UNAVAILABLE, no
     * more are asked for, and once none is waiting the stream ends with UNAVAILABLE.
     */
    void shutDown() {
        lock.lock();
        try {
            stopping = true;
            if (!finished && line.isEmpty()) {
                finished = true;
                out.onError(Statuses.shuttingDown());
            }
        } catch (RuntimeException e) {
            finished = true;   // the call ended under us
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void onError(Throwable t) {
        cancelled();
    }

    private void cancelled() {
        lock.lock();
        try {
            finished = true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void onCompleted() {
        lock.lock();
        try {
            halfClosed = true;
            if (!finished && line.isEmpty()) {
                finished = true;
                out.onCompleted();
            }
        } catch (RuntimeException e) {
            finished = true;
        } finally {
            lock.unlock();
        }
    }
}
