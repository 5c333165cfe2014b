package io.sluice.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Load the way an application makes it: {@code threads} platform threads, each calling a client's
 * publish in a loop over the session's warmup and measured window. Used for the Java client's rows
 * (scenario 8) and the same patterns against NATS JetStream (scenario 9). A thread whose call fails
 * stops; the row counts it and names the first failure.
 */
final class AppLoad {
    /** One blocking publish: returns once the broker answered. */
    interface Blocking {
        void publish() throws Exception;
    }

    /** One publish that does not wait: the future completes with the broker's answer. */
    interface Async {
        CompletableFuture<?> publish() throws Exception;
    }

    /** Most async publishes outstanding per run, over all threads (the Java client's default window). */
    static final int OUTSTANDING = 4096;

    private final Latency latency = new Latency();
    private final LongAdder completed = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private volatile boolean stopping;

    private AppLoad() {
    }

    /** {@code threads} threads, each publishing and waiting for the answer before the next. */
    static Measured waiting(Session s, int threads, Blocking call) throws InterruptedException {
        var load = new AppLoad();
        return load.run(s, threads, () -> {
            while (!load.stopping) {
                long sent = System.nanoTime();
                call.publish();
                load.latency.record(System.nanoTime() - sent);
                load.completed.increment();
            }
        }, List.of());
    }

    /**
     * {@code threads} threads, each publishing without waiting, with at most {@link #OUTSTANDING}
     * publishes unanswered over all of them (a thread waits for room).
     */
    static Measured outstanding(Session s, int threads, Async call) throws InterruptedException {
        var load = new AppLoad();
        var room = new Semaphore(OUTSTANDING);
        return load.run(s, threads, () -> {
            while (!load.stopping) {
                if (!room.tryAcquire(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("no answer for 30 s with " + OUTSTANDING + " outstanding");
                }
                long sent = System.nanoTime();
                call.publish().whenComplete((answer, error) -> {
                    room.release();
                    if (error != null) {
                        load.failed(error);
                        return;
                    }
                    load.latency.record(System.nanoTime() - sent);
                    load.completed.increment();
                });
            }
            if (!room.tryAcquire(OUTSTANDING, 30, TimeUnit.SECONDS)) {   // every answer is in
                throw new IllegalStateException("answers still missing 30 s after the run");
            }
            room.release(OUTSTANDING);
        }, List.of("at most " + OUTSTANDING + " publishes outstanding over all threads"));
    }

    private interface Body {
        void run() throws Exception;
    }

    private Measured run(Session s, int threads, Body body, List<String> fixedNotes) throws InterruptedException {
        var workers = new ArrayList<Thread>();
        for (int i = 0; i < threads; i++) {
            Thread t = Thread.ofPlatform().daemon().name("app-publisher-" + i).unstarted(() -> {
                try {
                    body.run();
                } catch (Exception e) {
                    failed(e);
                }
            });
            workers.add(t);
            t.start();
        }
        Thread.sleep(s.options().warmup().toMillis());
        latency.restart();
        long before = completed.sum();
        long begun = System.nanoTime();
        Probe.Window window = s.probe().begin();
        long end = begun + s.options().duration().toNanos();
        for (long left; (left = end - System.nanoTime()) > 0; ) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
        long messages = completed.sum() - before;
        Latency.Summary summary = latency.take();
        double seconds = (System.nanoTime() - begun) / 1e9;
        Resources resources = window.end();
        stopping = true;
        List<String> notes = new ArrayList<>(fixedNotes);
        for (Thread t : workers) {
            if (!t.join(java.time.Duration.ofSeconds(60))) {
                notes.add(t.getName() + " still publishing 60 s after the run");
            }
        }
        if (errors.sum() > 0) {
            notes.add(errors.sum() + " publishes failed; first: " + firstError.get());
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        return new Measured(messages, seconds, summary, errors.sum(), resources, notes);
    }

    /** Any failure ends the run: a broker that is gone fails calls at once, and going on would spin. */
    private void failed(Throwable error) {
        stopping = true;
        errors.increment();
        firstError.compareAndSet(null, String.valueOf(error));
    }
}
