package io.sluice.bench;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Scenario 3: one PublishStream per window size, keeping {@code window} requests unanswered. Each
 * response must echo the next request id in order (each means the message is committed); a response
 * may carry an error for its request alone. A server without the RPC gives a row saying so, not a
 * failed run.
 */
final class StreamScenario implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {
    static final int[] WINDOWS = {256, 1024};
    static final String UNIMPLEMENTED = "PublishStream: UNIMPLEMENTED by the server";

    private final String topic;
    private final ByteString payload;
    private final int window;
    private final long[] sentAt;
    private final Latency latency = new Latency();
    private final ReentrantLock lock = new ReentrantLock();
    private final CountDownLatch drained = new CountDownLatch(1);
    private final CountDownLatch ended = new CountDownLatch(1);
    private ClientCallStreamObserver<PublishStreamRequest> requests;
    private long sent;                // guarded by lock
    private long answered;            // guarded by lock
    private long stored;              // guarded by lock
    private long failed;              // guarded by lock
    private long outOfOrder;          // guarded by lock
    private String firstFailure;      // guarded by lock
    private boolean stopping;         // guarded by lock
    private volatile Status end;

    private StreamScenario(String topic, ByteString payload, int window) {
        this.topic = topic;
        this.payload = payload;
        this.window = window;
        this.sentAt = new long[window];
    }

    static void run(Session s) {
        for (int window : WINDOWS) {
            String name = "PublishStream 100 B, window " + window;
            var stream = new StreamScenario(s.topic("s3.stream.w" + window), PublishScenarios.payload(100), window);
            Row row = s.done(stream.measure(s, name));
            if (row.perSecond() == null && row.notes().contains(UNIMPLEMENTED)) {
                for (int w : WINDOWS) {
                    if (w > window) {
                        s.done(Row.without(3, "PublishStream 100 B, window " + w, UNIMPLEMENTED));
                    }
                }
                return;
            }
        }
    }

    /** One measured stream of 100 B messages with {@code window} requests unanswered (the security rows). */
    static Row measureOne(Session s, String topic, int window, String name) {
        return new StreamScenario(topic, PublishScenarios.payload(100), window).measure(s, name);
    }

    /** What an unmeasured stream did: messages stored, and why it failed (null when it did not). */
    record Unmeasured(long stored, String failure) {
    }

    /** Publishes on one stream with a window of 256 for {@code length}, measuring nothing (a broker's warm-up). */
    static Unmeasured unmeasured(Session s, String topic, Duration length) {
        var stream = new StreamScenario(topic, PublishScenarios.payload(100), WINDOWS[0]);
        stream.start(s);
        List<String> notes = new ArrayList<>();
        if (stream.awaitEnd(System.nanoTime() + length.toNanos())) {
            notes.add(stream.endedEarly());
        }
        stream.stopAndClose(notes);
        return new Unmeasured(stream.stored(), notes.isEmpty() ? null : String.join("; ", notes));
    }

    /** Opens the call on the first channel and sends the first window. */
    private void start(Session s) {
        s.clients().stub(0).publishStream(this);
        fill();
    }

    private Row measure(Session s, String name) {
        start(s);
        long start = System.nanoTime();
        if (awaitEnd(start + s.options().warmup().toNanos())) {
            return Row.without(3, name, endedEarly());
        }
        latency.restart();
        long before = stored();
        Probe.Window w = s.probe().begin();
        long begun = System.nanoTime();
        boolean early = awaitEnd(begun + s.options().duration().toNanos());
        long messages = stored() - before;
        Latency.Summary lat = latency.take();
        double seconds = (System.nanoTime() - begun) / 1e9;
        Resources resources = w.end();
        List<String> notes = new ArrayList<>();
        if (early) {
            notes.add(endedEarly());
        }
        stopAndClose(notes);
        lock.lock();
        try {
            if (failed > 0) {
                notes.add(failed + " requests answered with an error; first: " + firstFailure);
            }
            if (outOfOrder > 0) {
                notes.add(outOfOrder + " responses out of request order");
            }
        } finally {
            lock.unlock();
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        return Row.of(3, name, new Measured(messages, seconds, lat, failed, resources, notes));
    }

    private String endedEarly() {
        Status status = end;
        if (status != null && status.getCode() == Status.Code.UNIMPLEMENTED) {
            return UNIMPLEMENTED;
        }
        return "the stream ended early: " + (status == null ? "?" : ClosedLoop.describe(status.asRuntimeException()));
    }

    /**
     * Stops sending, waits up to 30 s for the answers still due, half-closes, and cancels the call if the
     * server does not end it within 10 s.
     */
    private void stopAndClose(List<String> notes) {
        lock.lock();
        try {
            stopping = true;
            if (answered == sent) {
                drained.countDown();
            }
        } finally {
            lock.unlock();
        }
        try {
            if (end == null && !drained.await(30, TimeUnit.SECONDS)) {
                notes.add("answers to " + (sentSnapshot() - stored() - failedSnapshot())
                        + " requests still missing 30 s after the run");
            }
            if (end == null) {
                lock.lock();
                try {
                    requests.onCompleted();
                } finally {
                    lock.unlock();
                }
            }
            if (!ended.await(10, TimeUnit.SECONDS)) {
                notes.add("the server did not end the stream within 10 s of the half-close (cancelled)");
                requests.cancel("benchmark over", null);
            } else if (end != null && !end.isOk() && notes.stream().noneMatch(n -> n.startsWith("the stream ended"))) {
                notes.add("the stream ended with " + ClosedLoop.describe(end.asRuntimeException()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            requests.cancel("interrupted", null);
        }
    }

    /** True when the call ended before {@code deadline}. */
    private boolean awaitEnd(long deadline) {
        try {
            return ended.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    // ---- the call's callbacks (its event loop) and fill (also the caller, once) ----

    @Override
    public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requestStream) {
        requests = requestStream;
        requests.setOnReadyHandler(this::fill);
    }

    /** Sends while fewer than {@code window} requests are unanswered and the transport takes more. */
    private void fill() {
        lock.lock();
        try {
            while (!stopping && end == null && sent - answered < window && requests.isReady()) {
                long id = sent++;
                sentAt[(int) (id % window)] = System.nanoTime();
                requests.onNext(PublishStreamRequest.newBuilder()
                        .setRequestId(id)
                        .setTopic(topic)
                        .setPayload(payload)
                        .build());
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void onNext(PublishStreamResponse response) {
        long now = System.nanoTime();
        lock.lock();
        try {
            long id = response.getRequestId();
            if (id != answered) {
                outOfOrder++;
            }
            if (id >= sent - window && id < sent) {
                latency.record(now - sentAt[(int) (id % window)]);
            }
            answered++;
            if (response.getErrorCode() == 0) {
                stored++;
            } else {
                failed++;
                if (firstFailure == null) {
                    firstFailure = Status.fromCodeValue(response.getErrorCode()).getCode() + ": "
                            + response.getErrorMessage();
                }
            }
            if (stopping && answered >= sent) {
                drained.countDown();
            }
        } finally {
            lock.unlock();
        }
        fill();
    }

    @Override
    public void onError(Throwable t) {
        end = Status.fromThrowable(t);
        drained.countDown();
        ended.countDown();
    }

    @Override
    public void onCompleted() {
        end = Status.OK;
        drained.countDown();
        ended.countDown();
    }

    private long stored() {
        lock.lock();
        try {
            return stored;
        } finally {
            lock.unlock();
        }
    }

    private long sentSnapshot() {
        lock.lock();
        try {
            return sent;
        } finally {
            lock.unlock();
        }
    }

    private long failedSnapshot() {
        lock.lock();
        try {
            return failed;
        } finally {
            lock.unlock();
        }
    }
}
