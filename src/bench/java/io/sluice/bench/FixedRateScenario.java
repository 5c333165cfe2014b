package io.sluice.bench;

import io.sluice.proto.PublishRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Scenarios 5 and 6: unary Publish of 100 B at a fixed rate, open loop. One sender thread
 * ({@code bench-open-loop}) starts call i at its intended time start + i/rate whatever is still in
 * flight, and latency runs from that intended time, so a stalled broker or a late sender shows in the
 * figures instead of being hidden (no coordinated omission). Scenario 6 runs the same while a consumer
 * on the same topic grants one credit a second: the producer's figures should not move.
 */
final class FixedRateScenario {
    /** In flight at most this many seconds' worth of calls; past that the run stops as overloaded. */
    static final int MAX_BEHIND_SECONDS = 10;

    private final Session s;
    private final PublishRequest request;
    private final Latency latency = new Latency();
    private final AtomicLong inFlight = new AtomicLong();
    private final LongAdder stored = new LongAdder();          // answered OK, warmup included
    private final LongAdder errors = new LongAdder();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final CountDownLatch drained = new CountDownLatch(1);
    private volatile boolean senderDone;
    private volatile long sent;
    private volatile long maxLagNanos;
    private final Latency senderLag = new Latency();
    private volatile boolean overloaded;

    private FixedRateScenario(Session s, String topic) {
        this.s = s;
        this.request = PublishRequest.newBuilder().setTopic(topic).setPayload(PublishScenarios.payload(100)).build();
    }

    /** Scenario 5. */
    static Row alone(Session s) throws InterruptedException {
        int rate = s.options().rate();
        return new FixedRateScenario(s, s.topic("s5.fixed"))
                .measure(5, String.format("Publish 100 B at %,d msg/s, open loop", rate), new ArrayList<>());
    }

    /** Scenario 6: a consumer grants 1 credit per second on the same topic meanwhile. */
    static Row withSlowConsumer(Session s) throws InterruptedException {
        String topic = s.topic("s6.fixed");
        var consumer = new Consumer(topic, "slow", 0, 1, null).start(s.clients().subscriberStub());
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "bench-credit-timer");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> consumer.grant(1), 0, 1, TimeUnit.SECONDS);
        Row row;
        try {
            row = new FixedRateScenario(s, topic).measure(6,
                    "the same + a consumer at 1 credit/s", new ArrayList<>());
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
        long measureFrom = start + s.options().warmup().toNanos();
        long endAt = measureFrom + s.options().fixedDuration().toNanos();
        long cap = (long) rate * MAX_BEHIND_SECONDS;
        Thread sender = Thread.ofPlatform().name("bench-open-loop").start(() -> {
            for (long i = 0; ; i++) {
                long intended = start + i * 1_000_000_000L / rate;
                if (intended - endAt >= 0) {
                    break;
                }
                long now = System.nanoTime();
                while (now - intended < 0) {
                    LockSupport.parkNanos(intended - now);
                    now = System.nanoTime();
                }
                if (now - intended > maxLagNanos) {
                    maxLagNanos = now - intended;
                }
                if (intended - measureFrom >= 0) {
                    senderLag.record(now - intended);
                }
                if (inFlight.get() >= cap) {
                    overloaded = true;
                    break;
                }
                boolean measured = intended - measureFrom >= 0;
                inFlight.incrementAndGet();
                send((int) i, intended, measured);
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
        Latency.Summary lat = latency.take();
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
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        return Row.of(scenario, name, new Measured(answered, seconds, lat, errors.sum(), resources, notes));
    }

    private void send(int index, long intended, boolean measured) {
        s.clients().stub(index).publish(request, new Answer<>((messages, error) -> {
            long latencyNanos = System.nanoTime() - intended;
            if (error == null) {
                stored.increment();
            }
            if (measured) {
                if (error == null) {
                    latency.record(latencyNanos);
                } else {
                    errors.increment();
                    firstError.compareAndSet(null, ClosedLoop.describe(error));
                }
            }
            if (inFlight.decrementAndGet() == 0 && senderDone) {
                drained.countDown();
            }
        }, 1));
    }

    private static void sleepUntil(long deadline) throws InterruptedException {
        long now;
        while ((now = System.nanoTime()) - deadline < 0) {
            TimeUnit.NANOSECONDS.sleep(deadline - now);
        }
    }
}
