package io.sluice.client;

import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import io.sluice.client.PublishCall.Pending;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.SluiceGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The single-message publishes of a {@link SluiceClient}, pipelined on one shared PublishStream.
 *
 * <p>Threads: a publishing thread takes a slot of the {@link Window} (blocking while it is full),
 * queues its request and, unless a run is already due, schedules a run on the client's I/O thread,
 * which moves every queued request onto the stream: what one run sends goes out in one write and one
 * flush, where gRPC flushes each request sent from another thread on its own (a system call and a
 * wake-up of the I/O thread per message). The stream's callbacks run on that thread too: each answer
 * is matched to its request ({@link PublishCall}), gives its slot back, and goes to the
 * {@link Completer}, which completes the future off the I/O thread. Any thread may also drain (the
 * send lock makes one sender at a time). When the stream breaks, the requests sent on it and not
 * answered fail with the stream's status, or, with {@link PublishOptions#retryFor()}, are sent again
 * on the next stream (at-least-once: the broker may have stored them); requests not yet sent go on
 * the next stream, opened after a pause when streams keep failing. A broker without PublishStream
 * (UNIMPLEMENTED before any answer) is published to by unary calls from then on.
 *
 * <p>Deadlines: each publish has the client's call timeout. A sweep, scheduled on the JDK's shared
 * delay scheduler every {@link #SWEEP} while anything is outstanding, fails queued publishes whose
 * deadline passed, and cancels a stream whose oldest unanswered request is past its deadline.
 */
final class Pipeline implements AutoCloseable {
    static final Duration SWEEP = Duration.ofMillis(250);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

    private final SluiceGrpc.SluiceStub stub;
    private final EventExecutor ioThread;
    private final Completer completer;
    private final Outcomes outcomes;
    private final Runnable resetConnectBackoff;
    private final Function<PublishStreamRequest, CompletableFuture<PublishOutcome>> unary;
    private final long timeoutNanos;
    private final long retryNanos;
    private final Window window;
    private final Backoff backoff = new Backoff(Duration.ofMillis(50), Duration.ofSeconds(2));
    private final AtomicLong ids = new AtomicLong();
    private final ConcurrentLinkedDeque<Pending> queue = new ConcurrentLinkedDeque<>();   // not yet sent
    private final AtomicBoolean sweepScheduled = new AtomicBoolean();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final ReentrantLock sendLock = new ReentrantLock();
    private PublishCall current;       // guarded by sendLock
    private long reopenAtNanos;        // guarded by sendLock: no new stream before (retry backoff)
    private int failedStreams;         // guarded by sendLock: streams in a row that ended without an answer
    private boolean reopenScheduled;   // guarded by sendLock
    private volatile boolean streaming;
    private volatile boolean closed;

    Pipeline(SluiceGrpc.SluiceStub stub, EventExecutor ioThread, Executor callbacks, Runnable resetConnectBackoff,
             Function<PublishStreamRequest, CompletableFuture<PublishOutcome>> unary, String target,
             Duration callTimeout, PublishOptions options) {
        this.stub = stub;
        this.ioThread = ioThread;
        this.completer = new Completer(callbacks);
        this.resetConnectBackoff = resetConnectBackoff;
        this.unary = unary;
        this.timeoutNanos = callTimeout.toNanos();
        this.retryNanos = options.retryFor().toNanos();
        this.window = new Window(options.window(), options.windowBytes());
        this.outcomes = new Outcomes(window, completer, ioThread, target);
        this.streaming = !options.unary();
    }

    /** False once the broker showed it has no PublishStream: publish by unary calls then. */
    boolean streaming() {
        return streaming;
    }

    /** True on the thread running the callbacks of this pipeline's futures, which must never wait for an answer. */
    boolean onAnswerThread() {
        return completer.onCallbackThread();
    }

    /**
     * Queues one publish for the I/O thread to send, with {@code guarantees} (null for none: its
     * future is then {@link Pending#future}, else {@link Pending#outcome}). Blocks while the window is
     * full (not on the callback thread, which overdraws it instead), up to the call timeout; the
     * future then fails with DEADLINE_EXCEEDED. Interrupted while waiting: fails with CANCELLED.
     */
    Pending submit(String topic, byte[] payload, Map<String, String> attributes, PublishGuarantees guarantees,
                   boolean waiting) {
        long deadline = System.nanoTime() + timeoutNanos;
        var p = new Pending(ids.incrementAndGet(), topic, payload, attributes, guarantees, deadline, waiting);
        if (closed) {
            p.fail(outcomes.closed());
            return p;
        }
        try {
            if (!window.acquire(p.bytes, deadline, onAnswerThread())) {
                if (closed) {
                    p.fail(outcomes.closed());   // woken by close while waiting for room
                    return p;
                }
                p.fail(outcomes.failure(Status.DEADLINE_EXCEEDED.withDescription(
                        "no room in the publish window within the call timeout of "
                                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms")));
                return p;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.fail(outcomes.failure(Status.CANCELLED.withDescription(
                    "interrupted while waiting for room in the publish window")));
            return p;
        }
        queue.add(p);
        scheduleDrain();
        scheduleSweep();
        return p;
    }

    /** Has the I/O thread send what is queued, unless it is about to already. */
    private void scheduleDrain() {
        if (!drainScheduled.get() && drainScheduled.compareAndSet(false, true)) {
            ioThread.execute(drainOnIoThread);
        }
    }

    /** Sends what is queued, on the I/O thread: one write and one flush for all of it. */
    private final Runnable drainOnIoThread = () -> {
        drainScheduled.set(false);
        drain();
    };

    // ---- sending (the I/O thread, or whichever thread gets the send lock) ----

    /**
     * Sends what is queued unless another thread is at it; that one sends ours too before it lets go
     * (a holder that does not send, the sweep, has the queue drained after it lets go). Futures are
     * never completed under the send lock: a callback chained to one may publish again.
     */
    private void drain() {
        List<Pending> late = null;
        while (!queue.isEmpty()) {
            if (!sendLock.tryLock()) {
                break;   // the holder looks at the queue again after it lets go
            }
            if (late == null) {
                late = new ArrayList<>(0);
            }
            boolean sent;
            try {
                sent = sendQueued(late);
            } finally {
                sendLock.unlock();
            }
            if (!sent) {
                break;   // waiting for a reconnect pause: the scheduled reopen drains
            }
        }
        if (late != null) {
            for (Pending p : late) {
                outcomes.fail(p, outcomes.late(p));
            }
        }
    }

    /**
     * Moves the queue onto the current stream, opening one if needed; false during a reconnect pause.
     * Publishes past their deadline, or queued once the client is closed, go to {@code late}.
     */
    private boolean sendQueued(List<Pending> late) {
        if (!streaming) {
            for (Pending p; (p = queue.poll()) != null; ) {
                viaUnary(p);
            }
            return true;
        }
        PublishCall call = current;
        if (call != null && call.isEnded()) {
            // Its end is being handled: what it left unanswered goes back to the head of the queue first,
            // then the handler drains; a stream opened now would send later publishes before them.
            return false;
        }
        if (call == null) {
            if (closed) {
                for (Pending p; (p = queue.poll()) != null; ) {
                    late.add(p);
                }
                return true;
            }
            long wait = reopenAtNanos - System.nanoTime();
            if (wait > 0) {
                scheduleReopen(wait);
                return false;
            }
            call = new PublishCall(listener);
            // Its callbacks run on the I/O thread, as tasks of their own (never inside a send): they match
            // answers and hand the futures to the Completer, never running application code there.
            stub.withExecutor(ioThread).withInterceptors(call.binding()).publishStream(call);
            current = call;
        }
        long now = System.nanoTime();
        Pending p;
        while ((p = queue.poll()) != null) {
            if (p.expired(now)) {
                late.add(p);
                continue;
            }
            boolean first = p.firstSentNanos == 0;
            if (first) {
                p.firstSentNanos = now;   // before it can leave: the retry window counts from here
            }
            if (!call.send(p)) {
                if (first) {
                    p.firstSentNanos = 0;   // it did not leave: never sent, should its call timeout pass
                }
                queue.addFirst(p);   // the call ended meanwhile: its end's handler puts its own before p and drains
                return false;
            }
        }
        return true;
    }

    private void scheduleReopen(long nanos) {
        if (reopenScheduled) {
            return;
        }
        reopenScheduled = true;
        CompletableFuture.delayedExecutor(nanos, TimeUnit.NANOSECONDS).execute(() -> {
            sendLock.lock();
            try {
                reopenScheduled = false;
            } finally {
                sendLock.unlock();
            }
            drain();
        });
    }

    // ---- answers and ends (the I/O thread) ----

    private final PublishCall.Listener listener = new PublishCall.Listener() {
        @Override
        public void answered(PublishCall call, Pending p, PublishStreamResponse r) {
            if (r.getErrorCode() == 0) {
                outcomes.stored(p, r);
                return;
            }
            Status status = Status.fromCodeValue(r.getErrorCode()).withDescription(r.getErrorMessage());
            if (status.getCode() == Status.Code.UNAVAILABLE && retrying(p, System.nanoTime())) {
                // Refused, not stored (the broker is stopping): send it again on a new stream after a pause.
                queue.addFirst(p);
                abandon(call);
                return;
            }
            outcomes.fail(p, outcomes.failure(status));
        }

        @Override
        public void ended(PublishCall call, Status status, List<Pending> unanswered) {
            if (status.getCode() == Status.Code.UNIMPLEMENTED && call.answered() == 0) {
                streaming = false;   // nothing was stored: every request goes by unary calls from now on
                unanswered.forEach(Pipeline.this::viaUnary);
                drain();
                return;
            }
            long now = System.nanoTime();
            List<Pending> again = outcomes.unanswered(status, call.reachedBroker(), unanswered, now,
                    Pipeline.this::retrying);
            for (int i = again.size() - 1; i >= 0; i--) {
                queue.addFirst(again.get(i));
            }
            sendLock.lock();
            try {
                if (current == call) {
                    current = null;
                }
                failedStreams = call.answered() == 0 ? failedStreams + 1 : 0;
                if (failedStreams > 0) {
                    // No stream while the broker is unreachable: a pause before the next one, whether or not
                    // anything is retried (what waits was never sent), instead of a loop of failing streams.
                    reopenAtNanos = now + backoff.pauseNanos(failedStreams - 1);
                }
            } finally {
                sendLock.unlock();
            }
            if (status.getCode() == Status.Code.UNAVAILABLE) {
                resetConnectBackoff.run();   // our pause paces reconnects, not the channel's
            }
            drain();
        }
    };

    /** Stops sending on {@code call} (its answers still come) and pauses before the next stream. */
    private void abandon(PublishCall call) {
        sendLock.lock();
        try {
            if (current == call) {
                current = null;
                call.halfClose();
                failedStreams++;
                reopenAtNanos = System.nanoTime() + backoff.pauseNanos(failedStreams - 1);
            }
        } finally {
            sendLock.unlock();
        }
        if (!queue.isEmpty()) {
            scheduleDrain();
        }
    }

    /** True while a publish a broken stream left unanswered is still to be sent again. */
    private boolean retrying(Pending p, long now) {
        return retryNanos > 0 && !closed && now - p.firstSentNanos < retryNanos;
    }

    /**
     * Sends {@code p} as a unary call; its answer is handled on the I/O thread, as a stream's is, so its
     * future completes on the callback thread, after the ones answered before it.
     */
    private void viaUnary(Pending p) {
        unary.apply(p.request).whenCompleteAsync((answer, error) -> {
            if (error == null) {
                p.duplicate = answer.duplicate();
                outcomes.stored(p, answer.published());
            } else {
                outcomes.fail(p, error instanceof SluiceClientException e ? e
                        : outcomes.failure(Status.fromThrowable(error)));
            }
        }, ioThread);
    }

    // ---- deadlines ----

    private void scheduleSweep() {
        if (!sweepScheduled.get() && sweepScheduled.compareAndSet(false, true)) {
            CompletableFuture.delayedExecutor(SWEEP.toNanos(), TimeUnit.NANOSECONDS).execute(this::sweep);
        }
    }

    /** Fails queued publishes past their deadline; cancels a stream whose oldest answer is overdue. */
    private void sweep() {
        sweepScheduled.set(false);
        long now = System.nanoTime();
        for (Pending p : queue) {
            if (p.expired(now) && queue.remove(p)) {
                outcomes.fail(p, outcomes.timedOut(p));
            }
        }
        PublishCall call;
        sendLock.lock();
        try {
            call = current;
        } finally {
            sendLock.unlock();
        }
        if (!queue.isEmpty()) {
            scheduleDrain();   // a drain that found the lock held meanwhile left its publishes to the holder
        }
        if (call != null) {
            Pending oldest = call.oldest();
            if (oldest != null && oldest.expired(now)) {
                call.cancel("no answer within the call timeout");
            }
        }
        if (window.outstanding() > 0) {
            scheduleSweep();
        }
    }

    // ---- closing ----

    /**
     * Lets the publishes already made finish (up to 5 s), then ends the stream; later publishes fail
     * with UNAVAILABLE. Called once, by the client's close, before the channel shuts down.
     */
    @Override
    public void close() {
        closed = true;
        window.close();   // callers waiting for room fail as closed now, not at their call timeout
        drain();
        try {
            window.awaitEmpty(CLOSE_WAIT.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        PublishCall call;
        sendLock.lock();
        try {
            call = current;
            current = null;
        } finally {
            sendLock.unlock();
        }
        for (Pending p; (p = queue.poll()) != null; ) {
            outcomes.fail(p, outcomes.closed());
        }
        if (call != null) {
            call.halfClose();   // not under the send lock: nobody sends on it once closed and not current
        }
    }
}
