package io.sluice.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.sluice.domain.SluiceException;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.server.security.Access;
import io.sluice.store.NewMessage;
import io.sluice.store.Store;
import io.sluice.store.WhenFull;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
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
 * request fails alone: its answer carries the status code and message. One that does not parse has
 * no request_id to answer: the stream reads no more, answers the requests before it, and ends with
 * INVALID_ARGUMENT.
 *
 * <p>Flow control is manual: the stream asks gRPC for one request at a time, and asks for the next
 * as soon as one arrives, while fewer than {@link #WINDOW} messages and {@link #MAX_IN_FLIGHT_BYTES}
 * bytes are waiting for their commit and the broker's {@link MemoryBudget} has room for it (as much
 * as the largest request this stream has sent, at least {@link #MIN_ROOM}): a full writer or a spent
 * budget stops the reading of this stream and transport flow control pushes back on the producer.
 * Each request holds its bytes of the budget until its answer is sent, and answers are sent only
 * while the transport is ready for them: a client that reads no answers stops this stream's reading
 * once {@link #WINDOW} of them wait. Nothing here blocks.
 */
final class PublishStreamHandler implements StreamObserver<PublishStreamRequest> {
    private static final System.Logger LOG = System.getLogger(PublishStreamHandler.class.getName());
    /** Most requests of one stream waiting for their commit. */
    static final int WINDOW = 4096;
    /** Most payload bytes of one stream waiting for their commit (one larger message is still taken). */
    static final long MAX_IN_FLIGHT_BYTES = 16L << 20;
    /** Room taken in the budget for the next request before any has arrived. */
    static final long MIN_ROOM = 4096;

    private final Store store;
    private final MemoryBudget budget;
    private final long largestRequest;
    private final Publisher publisher;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final ServerCallStreamObserver<PublishStreamResponse> out;
    private final Executor sender;
    private final AtomicBoolean flushScheduled = new AtomicBoolean();


    private final ReentrantLock lock = new ReentrantLock();
    private final ReentrantLock sendLock = new ReentrantLock();   // one sender pass at a time, in order
    private volatile boolean cancelled;
    private final ArrayDeque<StreamAnswer> line = new ArrayDeque<>();   // guarded by lock: answers in request order
    private long inFlightBytes;                                  // guarded by lock
    private int outstanding;                                     // guarded by lock: requested, not yet received
    private long reserved;                                       // guarded by lock: budget taken for it
    private long largestSeen = MIN_ROOM;                         // guarded by lock
    private boolean awaitingRoom;                                // guarded by lock: queued in the budget
    private boolean halfClosed;                                  // guarded by lock
    private boolean stopping;                                    // guarded by lock: the broker is shutting down
    private Status ending;                                       // guarded by lock: a request did not parse
    private boolean finished;                                    // guarded by lock

    /**
     * {@code sender} sends the answers: the stream's transport thread (a thread of their own off
     * the transport). {@code open} holds the streams open now: this one adds itself and leaves when
     * its call ends.
     */
    PublishStreamHandler(Store store, MemoryBudget budget, Publisher publisher, Executor sender,
                         StreamObserver<PublishStreamResponse> responses, Set<PublishStreamHandler> open) {
        this.store = store;
        this.budget = budget;
        this.largestRequest = publisher.largestMessage() + Admission.OVERHEAD_PER_MESSAGE;
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
        out.setOnCloseHandler(() -> {
            open.remove(this);
            dropReservation();
        });
        out.setOnReadyHandler(this::scheduleFlush);   // answers held for a client that was not reading go now
        open.add(this);
        lock.lock();
        try {
            requestMore();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void onNext(PublishStreamRequest request) {
        if (request == null) {   // a message that did not parse (RequestParsing): the stream ends with its status
            endAfterAnswers(RequestParsing.malformed());
            return;
        }
        long bytes = Admission.heldBytes(request);
        var entry = new StreamAnswer(request.getRequestId(), request.getTopic(), bytes, metrics, this::scheduleFlush);
        boolean taken;
        boolean refused;
        long room;
        lock.lock();
        try {
            outstanding--;
            room = reserved;
            reserved = 0;
            largestSeen = Math.max(largestSeen, bytes);
            taken = !finished;
            if (taken) {
                line.add(entry);
                inFlightBytes += bytes;
            }
            refused = stopping;
        } finally {
            lock.unlock();
        }
        if (!taken) {
            budget.release(room);
            return;
        }
        // The room taken for this request becomes what it really holds, given back with its answer.
        if (room > bytes) {
            budget.release(room - bytes);
        } else {
            budget.force(bytes - room);
        }
        if (refused) {
            entry.refuse(new SluiceException.Unavailable("the broker is shutting down"));
            return;
        }
        try {
            Access.requirePublish(request.getTopic());
            NewMessage message = publisher.check(request.getTopic(), request.getPayload(), request.getAttributesMap(),
                    request.getDedupId());
            entry.span = tracing.startPublish(request.getTopic(), request.getAttributesMap());
            store.append(request.getTopic(), List.of(message), request.hasExpectedLastSequence()
                    ? OptionalLong.of(request.getExpectedLastSequence()) : OptionalLong.empty(), WhenFull.ACCEPT, entry);
        } catch (SluiceException e) {
            entry.refuse(e);
        }
        lock.lock();
        try {
            requestMore();   // the next request as soon as this one is in: the stream reads on without a pause
        } finally {
            lock.unlock();
        }
    }

    /**
     * A request did not parse, so its request_id is unknown and it cannot be answered alone: reads no
     * more, answers every request taken before it as its commit completes, then ends the stream with
     * {@code status}.
     */
    private void endAfterAnswers(Status status) {
        lock.lock();
        try {
            outstanding--;
            if (finished || ending != null) {
                return;
            }
            ending = status;
        } finally {
            lock.unlock();
        }
        dropReservation();
        scheduleFlush();
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
     * not one thread (a stream served off the transport threads). The pass that sends the last
     * answer after a half-close, a shutdown or a request that did not parse also ends the stream.
     */
    private void flush() {
        flushScheduled.set(false);   // completions from now on schedule another pass
        sendLock.lock();
        try {
            var ready = new ArrayList<StreamAnswer>();
            boolean complete;
            boolean shutDown;
            Status refusal;
            long freed = 0;
            // Answers go only while the transport takes them: for a client that reads none, they wait in the
            // line, which stops this stream's reading once it is full, and the onReady handler sends them
            // once the client reads again (or the stream is reset, see UnreadAnswers).
            boolean writable = cancelled || out.isReady();
            lock.lock();
            try {
                StreamAnswer head;
                while (writable && (head = line.peek()) != null && head.done) {
                    ready.add(line.poll());
                    inFlightBytes -= head.bytes;
                    freed += head.bytes;
                }
                complete = !finished && (halfClosed || stopping || ending != null) && line.isEmpty();
                if (complete) {
                    finished = true;
                } else {
                    requestMore();
                }
                shutDown = complete && stopping && !halfClosed;
                refusal = complete ? ending : null;
            } finally {
                lock.unlock();
            }
            budget.release(freed);   // outside the lock: it may let other streams' requests in
            for (StreamAnswer e : ready) {
                PublishStreamResponse response = e.response();
                if (!cancelled) {
                    out.onNext(response);
                }
            }
            if (complete && !cancelled) {
                if (refusal != null) {
                    out.onError(refusal.asRuntimeException());
                } else if (shutDown) {
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

    /**
     * Asks for the next request when none is asked for yet, the stream's window has room, and the
     * budget grants room for it; when the budget is spent, {@link #granted} asks once it has room.
     */
    private void requestMore() {   // guarded by lock
        if (finished || halfClosed || stopping || ending != null || outstanding > 0 || awaitingRoom
                || line.size() >= WINDOW || inFlightBytes >= MAX_IN_FLIGHT_BYTES) {
            return;
        }
        long room = Math.min(largestSeen, largestRequest);
        if (budget.takeOrWait(room, () -> granted(room))) {
            ask(room);
        } else {
            awaitingRoom = true;
        }
    }

    private void ask(long room) {   // guarded by lock
        reserved = room;
        outstanding = 1;
        out.request(1);
    }

    /** The budget took room for this stream's next request (on the thread whose release made it). */
    private void granted(long room) {
        boolean unused;
        lock.lock();
        try {
            awaitingRoom = false;
            unused = finished || halfClosed || stopping || ending != null || outstanding > 0;
            if (!unused) {
                ask(room);
            }
        } catch (RuntimeException e) {
            unused = true;   // the call ended under us
            reserved = 0;
            outstanding = 0;
        } finally {
            lock.unlock();
        }
        if (unused) {
            budget.release(room);
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
        dropReservation();
        scheduleFlush();   // answers held for the client give their room back
    }

    /** Gives back the room taken for a request that will not come now (the stream ended or was half-closed). */
    private void dropReservation() {
        long room;
        lock.lock();
        try {
            room = reserved;
            reserved = 0;
        } finally {
            lock.unlock();
        }
        budget.release(room);
    }

    @Override
    public void onCompleted() {
        lock.lock();
        try {
            halfClosed = true;
        } finally {
            lock.unlock();
        }
        dropReservation();
        scheduleFlush();   // the sender completes the call once every answer is out
    }
}
