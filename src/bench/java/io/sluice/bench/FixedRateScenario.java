package io.sluice.bench;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenarios 5 and 6: 100 B messages at a fixed rate, open loop. One sender thread
 * ({@code bench-open-loop}) sends message i at its intended time start + i/rate whatever is still in
 * flight, and latency runs from that intended time to its answer (each answer means the message is
 * committed), so a stalled broker or a late sender shows in the figures instead of being hidden (no
 * coordinated omission). Each run sends at the rate for {@code --fixed-warmup} (10 s) before it
 * measures: with only two seconds, a run of scenario 5 alone measured a load generator whose sender
 * path was still cold (unary p99 4.6-5.1 ms, the sender late by 1.4-1.6 ms at p99, against 2.3-2.8 ms
 * and 0.34-0.37 ms after ten seconds). Scenario 5 sends each message as a unary Publish, then, on a
 * new topic, as a request on one PublishStream; scenario 6 runs both ways again while a consumer on
 * the topic grants one credit a second: the producer's figures should not move.
 */
final class FixedRateScenario {
    /** In flight at most this many seconds' worth of calls; past that the run stops as overloaded. */
    static final int MAX_BEHIND_SECONDS = 10;

    private final Session s;
    private final String topic;
    private final PublishRequest request;
    private final boolean onStream;
    private Stream stream;
    private final Latency latency = new Latency();
    private final Latency fromCall = new Latency();   // from the call's actual start: the sender's lateness left out
    private final AtomicLong inFlight = new AtomicLong();
    private final LongAdder stored = new LongAdder();          // answered OK, warmup included
    private final LongAdder errors = new LongAdder();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final CountDownLatch drained = new CountDownLatch(1);
    private volatile boolean senderDone;
    private volatile long sent;
    private final Latency senderLag = new Latency();
    private volatile boolean overloaded;

    private FixedRateScenario(Session s, String topic, boolean onStream) {
        this.s = s;
        this.topic = topic;
        this.request = PublishRequest.newBuilder().setTopic(topic).setPayload(PublishScenarios.payload(100)).build();
        this.onStream = onStream;
    }

    /** Scenario 5: unary calls, then one stream. */
    static void alone(Session s) throws InterruptedException {
        int rate = s.options().rate();
        String floor = machineFloor(s);
        s.done(new FixedRateScenario(s, s.topic("s5.fixed"), false)
                .measure(5, String.format("Publish 100 B at %,d msg/s, open loop", rate), notes(floor)));
        s.done(new FixedRateScenario(s, s.topic("s5.stream"), true)
                .measure(5, String.format("PublishStream 100 B at %,d msg/s, open loop", rate), notes(floor)));
    }

    /** {@link WakeProbe} with the broker idle, for the notes of the rows that follow. */
    private static String machineFloor(Session s) {
        Duration length = s.options().quick() ? Duration.ofSeconds(1) : Duration.ofSeconds(5);
        return WakeProbe.describe(WakeProbe.run(s.options().rate(), length), s.options().rate(), length);
    }

    private static List<String> notes(String first) {
        return new ArrayList<>(List.of(first));
    }

    /** Scenario 6: each way of scenario 5 again, while a consumer grants 1 credit per second on its topic. */
    static void withSlowConsumer(Session s) throws InterruptedException {
        String floor = machineFloor(s);
        s.done(withSlowConsumer(s, s.topic("s6.fixed"), false, "the same + a consumer at 1 credit/s", floor));
        s.done(withSlowConsumer(s, s.topic("s6.stream"), true, "PublishStream + a consumer at 1 credit/s", floor));
    }

    private static Row withSlowConsumer(Session s, String topic, boolean onStream, String name, String floor)
            throws InterruptedException {
        var consumer = new Consumer(topic, "slow", 0, 1, null).start(s.clients().subscriberStub());
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "bench-credit-timer");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> consumer.grant(1), 0, 1, TimeUnit.SECONDS);
        Row row;
        try {
            row = new FixedRateScenario(s, topic, onStream).measure(6, name, notes(floor));
        } finally {
            timer.shutdownNow();
            consumer.close();
        }
        return row.withNote(String.format("the slow consumer received %,d messages%s", consumer.received(),
                consumer.ended() == null || consumer.ended().startsWith("closed") ? ""
                        : "; its stream ended: " + consumer.ended()));
    }

    private Row measure(int scenario, String name, List<String> notes) throws InterruptedException {
        int rate = s.options().rate();
        // A cold client sends slower than the schedule and its lateness would count as the broker's:
        // warm both with one second's worth of closed-loop calls first.
        String warm = CountedLoop.run(16, rate, 60,
                (w, done) -> s.clients().stub(w).publish(request, new Answer<>(done, 1)));
        if (warm != null) {
            return Row.without(scenario, name, "the warm-up publishes failed: " + warm);
        }
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(10);
        long measureFrom = start + s.options().fixedWarmup().toNanos();
        long endAt = measureFrom + s.options().fixedDuration().toNanos();
        long cap = (long) rate * MAX_BEHIND_SECONDS;
        if (onStream) {
            stream = new Stream((int) cap, measureFrom);
            s.clients().stub(0).publishStream(stream);
        }
        Thread sender = Thread.ofPlatform().name("bench-open-loop").start(() -> {
            for (long i = 0; ; i++) {
                long intended = start + i * 1_000_000_000L / rate;
                if (intended - endAt >= 0) {
                    break;
                }
                long now = WakeProbe.sleepUntil(intended);
                boolean measured = intended - measureFrom >= 0;
                if (measured) {
                    senderLag.record(now - intended);
                }
                if (inFlight.get() >= cap || (stream != null && stream.ended != null)) {
                    overloaded = stream == null || stream.ended == null;
                    break;
                }
                inFlight.incrementAndGet();
                long called = System.nanoTime();
                if (stream != null) {
                    stream.send(i, intended, called);
                } else {
                    send((int) i, intended, called, measured);
                }
                sent = i + 1;
            }
            senderDone = true;
            if (inFlight.get() == 0) {
                drained.countDown();
            }
        });
        sleepUntil(measureFrom);
        senderLag.restart();
        long begun = System.nanoTime();
        long storedBefore = stored.sum();
        Probe.Window window = s.probe().begin();
        sleepUntil(endAt);
        long answered = stored.sum() - storedBefore;
        double seconds = (System.nanoTime() - begun) / 1e9;
        Resources resources = window.end();
        Latency.Summary lag = senderLag.take();
        sender.join();
        if (!drained.await(30, TimeUnit.SECONDS)) {
            notes.add(inFlight.get() + " calls still unanswered 30 s after the run (cancelled)");
        }
        if (stream != null) {
            stream.close(notes);
        }
        Latency.Summary lat = latency.take();
        Latency.Summary called = fromCall.take();
        if (overloaded) {
            notes.add(String.format("stopped early: %,d calls in flight (%d s behind); sent %,d", cap,
                    MAX_BEHIND_SECONDS, sent));
        }
        if (errors.sum() > 0) {
            notes.add(errors.sum() + " calls failed; first: " + firstError.get());
        }
        double planned = s.options().fixedDuration().toNanos() / 1e9;
        if (seconds < 0.9 * planned) {
            notes.add(String.format("the load generator's main thread woke %.0f ms late: msg/s is over %.2f s, "
                    + "not %.0f s (is the machine overloaded?)", (begun - measureFrom) / 1e6, seconds, planned));
        }
        if (answered < 0.95 * rate * seconds) {
            notes.add(String.format("answered %,.0f msg/s of the %,d offered: calls queued, latency grew with "
                    + "the queue", answered / seconds, rate));
        }
        if (lag.count() > 0) {
            notes.add(String.format("the sender started calls late by p50 %.3f, p99 %.2f, at most %.1f ms "
                    + "(counted in the latency)", lag.p50(), lag.p99(), lag.max()));
        }
        if (called.count() > 0) {
            notes.add(String.format("from each call's start instead of its intended time (the sender's own "
                    + "lateness left out): p50 %.2f, p99 %.2f, p99.9 %.2f ms", called.p50(), called.p99(),
                    called.p999()));
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        return Row.of(scenario, name, new Measured(answered, seconds, lat, errors.sum(), resources, notes));
    }

    private void send(int index, long intended, long called, boolean measured) {
        s.clients().stub(index).publish(request, new Answer<>((messages, error) -> answered(intended, called,
                measured, error == null ? null : ClosedLoop.describe(error)), 1));
    }

    /** A message due at {@code intended}, sent at {@code called}, answered: stored ({@code error} null) or refused. */
    private void answered(long intended, long called, boolean measured, String error) {
        long now = System.nanoTime();
        if (error == null) {
            stored.increment();
        }
        if (measured) {
            if (error == null) {
                latency.record(now - intended);
                fromCall.record(now - called);
            } else {
                errors.increment();
                firstError.compareAndSet(null, error);
            }
        }
        if (inFlight.decrementAndGet() == 0 && senderDone) {
            drained.countDown();
        }
    }

    /**
     * The messages as requests of one PublishStream: request i carries request_id i, and its answer
     * finds its intended time by that id (at most {@code cap} are in flight, so a ring of that size
     * holds them all). Requests are only sent from the sender thread.
     */
    private final class Stream implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {
        private final AtomicLongArray intended;
        private final AtomicLongArray called;
        private final long measureFrom;
        private final CountDownLatch closed = new CountDownLatch(1);
        private ClientCallStreamObserver<PublishStreamRequest> requests;
        private volatile String ended;

        Stream(int cap, long measureFrom) {
            this.intended = new AtomicLongArray(cap);
            this.called = new AtomicLongArray(cap);
            this.measureFrom = measureFrom;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requests) {
            this.requests = requests;
        }

        void send(long id, long at, long sentAt) {
            int slot = (int) (id % intended.length());
            intended.set(slot, at);
            called.set(slot, sentAt);
            requests.onNext(PublishStreamRequest.newBuilder().setRequestId(id).setTopic(topic)
                    .setPayload(request.getPayload()).build());
        }

        @Override
        public void onNext(PublishStreamResponse response) {
            int slot = (int) (response.getRequestId() % intended.length());
            long at = intended.get(slot);
            answered(at, called.get(slot), at - measureFrom >= 0, response.getErrorCode() == 0 ? null
                    : Status.fromCodeValue(response.getErrorCode()).getCode() + ": " + response.getErrorMessage());
        }

        @Override
        public void onError(Throwable t) {
            finish(ClosedLoop.describe(t));
        }

        @Override
        public void onCompleted() {
            finish("completed by the server");
        }

        /** The stream is over: what was still unanswered never will be. */
        private void finish(String how) {
            ended = how;
            long lost = inFlight.getAndSet(0);
            if (lost > 0) {
                errors.add(lost);
                firstError.compareAndSet(null, "the stream ended with " + lost + " requests unanswered: " + how);
            }
            drained.countDown();
            closed.countDown();
        }

        /** Half-closes once every answer is in, and waits up to 10 s for the server to end the stream. */
        void close(List<String> notes) throws InterruptedException {
            if (ended == null) {
                requests.onCompleted();
                if (!closed.await(10, TimeUnit.SECONDS)) {
                    notes.add("the server did not end the stream within 10 s of the half-close (cancelled)");
                    requests.cancel("benchmark over", null);
                }
            } else if (!ended.equals("completed by the server")) {
                notes.add("the stream ended early: " + ended);
            }
        }
    }

    private static void sleepUntil(long deadline) throws InterruptedException {
        long now;
        while ((now = System.nanoTime()) - deadline < 0) {
            TimeUnit.NANOSECONDS.sleep(deadline - now);
        }
    }
}
