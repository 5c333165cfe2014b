package io.sluice.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.trace.Span;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.server.security.Access;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.SluiceException;
import io.sluice.store.Store;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One PublishStream call: pipelined durable publishes. Requests are handled where they arrive (the
 * transport thread: this method runs on a direct executor) and only validated and queued to the
 * writer. The writer only marks each one committed (or failed) and, once per commit, asks the
 * sender, the stream's transport thread, to send the answers now complete at the head of the line,
 * in request order: the writer never builds or sends a response and goes on to its next commit at
 * once, and the answers are written where gRPC writes them anyway, with no thread between. A bad
 * request fails alone: its answer carries the status code and message.
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
    private final Executor sender;
    private final AtomicBoolean flushScheduled = new AtomicBoolean();


    private final ReentrantLock lock = new ReentrantLock();
    private final ReentrantLock sendLock = new ReentrantLock();   // one sender pass at a time, in order
    private volatile boolean cancelled;
    private final ArrayDeque<Entry> line = new ArrayDeque<>();   // guarded by lock: answers in request order
    private long inFlightBytes;                                  // guarded by lock
    private int outstanding;                                     // guarded by lock: requested, not yet received
    private boolean halfClosed;                                  // guarded by lock
    private boolean stopping;                                    // guarded by lock: the broker is shutting down
    private boolean finished;                                    // guarded by lock

    /**
     * {@code sender} sends the answers: the stream's transport thread (a thread of their own off
     * the transport). {@code open} holds the streams open now: this one adds itself and leaves when
     * its call ends.
     */
    PublishStreamHandler(Store store, Publisher publisher, Executor sender,
                         StreamObserver<PublishStreamResponse> responses, Set<PublishStreamHandler> open) {
        this.store = store;
        this.sender = sender;
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

    /** One request on its way to an answer. Completed by the writer thread, answered by the sender. */
    private final class Entry implements Completion<List<Appended>> {
        final long requestId;
        final String topic;
        final long bytes;
        final long startedNanos = System.nanoTime();
        Span span = Span.getInvalid();
        // Written before the entry is marked done (a volatile write), read after seeing it done.
        Appended stored;
        SluiceException refused;
        long committedNanos;
        volatile boolean done;

        Entry(long requestId, String topic, long bytes) {
            this.requestId = requestId;
            this.topic = topic;
            this.bytes = bytes;
        }

        @Override
        public void committed(List<Appended> result) {
            stored = result.getFirst();
            committedNanos = System.nanoTime();
            done = true;
            scheduleFlush();
        }

        @Override
        public void failed(SluiceException error) {
            refuse(error);
        }

        void refuse(SluiceException error) {
            refused = error;
            done = true;
            scheduleFlush();
        }

        /** The answer; only once done. */
        PublishStreamResponse response() {
            if (refused != null) {
                Tracing.failed(span, refused);
                return refusal(requestId, refused);
            }
            String id = stored.id().toString();
            Tracing.published(span, id, stored.sequence());
            metrics.published(topic, 1, committedNanos - startedNanos);
            return PublishStreamResponse.newBuilder()
                    .setRequestId(requestId)
                    .setMessageId(id)
                    .setSequence(stored.sequence())
                    .setTimestamp(stored.timestamp())
                    .build();
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
            entry.refuse(new SluiceException.Unavailable("the broker is shutting down"));
            return;
        }
        NewMessage message;
        try {
            Access.requirePublish(request.getTopic());
            message = publisher.check(request.getTopic(), request.getPayload(), request.getAttributesMap());
        } catch (SluiceException e) {
            entry.refuse(e);
            return;
        }
        entry.span = tracing.startPublish(request.getTopic(), request.getAttributesMap());
        store.appendPaced(request.getTopic(), message, entry);
    }

    /** Ends the stream with {@code status}; answers still pending are not sent (their writes may be stored). */
    private void refuseStream(Status status) {
        sendLock.lock();
        try {
            lock.lock();
            try {
                outstanding--;
                if (finished) {
                    return;
                }
                finished = true;
            } finally {
                lock.unlock();
            }
            out.onError(status.asRuntimeException());
        } catch (RuntimeException e) {
            cancelled();   // the call ended under us
        } finally {
            sendLock.unlock();
        }
    }

    private static PublishStreamResponse refusal(long requestId, SluiceException e) {
        return PublishStreamResponse.newBuilder()
                .setRequestId(requestId)
                .setErrorCode(Statuses.codeOf(e).value())
                .setErrorMessage(e.getMessage())
                .build();
    }

    /** Asks the sender to send what is complete, unless it is already asked. */
    private void scheduleFlush() {
        if (flushScheduled.compareAndSet(false, true)) {
            sender.execute(this::flush);
        }
    }

    /**
     * Sends every answer now complete at the head of the line (on the sender). The line lock is
     * held only to take the answers off it; the send lock keeps passes in order where the sender is
     * not one thread (a stream served off the transport threads) and keeps a refusal of the whole
     * stream from interleaving with a pass.
     */
    private void flush() {
        flushScheduled.set(false);   // completions from now on schedule another pass
        sendLock.lock();
        try {
            var ready = new ArrayList<Entry>();
            boolean complete;
            boolean shutDown;
            lock.lock();
            try {
                Entry head;
                while ((head = line.peek()) != null && head.done) {
                    ready.add(line.poll());
                    inFlightBytes -= head.bytes;
                }
                complete = !finished && (halfClosed || stopping) && line.isEmpty();
                if (complete) {
                    finished = true;
                } else {
                    requestMore();
                }
                shutDown = complete && stopping && !halfClosed;
            } finally {
                lock.unlock();
            }
            for (Entry e : ready) {
                PublishStreamResponse response = e.response();
                if (!cancelled) {
                    out.onNext(response);
                }
            }
            if (complete && !cancelled) {
                if (shutDown) {
                    out.onError(Statuses.shuttingDown());
                } else {
                    out.onCompleted();
                }
            }
        } catch (RuntimeException e) {
            // The call ended under us (cancelled): nothing more can be sent.
            cancelled();
            LOG.log(Level.DEBUG, () -> "publish stream closed while answering: " + e);
        } finally {
            sendLock.unlock();
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
        } finally {
            lock.unlock();
        }
        scheduleFlush();
    }

    @Override
    public void onError(Throwable t) {
        cancelled();
    }

    private void cancelled() {
        cancelled = true;
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
        } finally {
            lock.unlock();
        }
        scheduleFlush();   // the sender completes the call once every answer is out
    }
}
