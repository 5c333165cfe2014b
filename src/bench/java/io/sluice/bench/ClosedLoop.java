package io.sluice.bench;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Closed-loop load: {@code workers} independent publishers, each with exactly one call in flight, starting
 * its next call from the completion of the last (on the channel's event loop, so no thread per worker).
 * The run is warmup, then the measured window, then a drain of at most 30 s. A worker whose call fails
 * stops (a broker that is gone fails calls at once, and retrying would spin); the row says so.
 */
final class ClosedLoop {
    /** Starts one call for {@code worker}; {@code done} is called once, on any thread, and must not block. */
    interface Call {
        void start(int worker, Done done);
    }

    /** The end of one call: {@code messages} stored, or {@code error}. */
    interface Done {
        void done(int messages, Throwable error);
    }

    private final int workers;
    private final Call call;
    private final Latency latency = new Latency();
    private final LongAdder completed = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final CountDownLatch stopped;
    private volatile boolean stopping;

    private ClosedLoop(int workers, Call call) {
        this.workers = workers;
        this.call = call;
        this.stopped = new CountDownLatch(workers);
    }

    /** Runs {@code workers} closed loops over the session's warmup and duration. */
    static Measured run(Session s, int workers, Call call) {
        return run(s, workers, call, () -> { }, () -> { });
    }

    /**
     * As {@link #run(Session, int, Call)}; {@code atBegin} and {@code atEnd} run on this thread at the
     * measured window's edges.
     */
    static Measured run(Session s, int workers, Call call, Runnable atBegin, Runnable atEnd) {
        var loop = new ClosedLoop(workers, call);
        long start = System.nanoTime();
        for (int w = 0; w < workers; w++) {
            loop.next(w);
        }
        loop.awaitUntil(start + s.options().warmup().toNanos());
        long begun = System.nanoTime();
        loop.latency.restart();
        long before = loop.completed.sum();
        atBegin.run();
        Probe.Window window = s.probe().begin();   // may take a while: a busy broker is slow to scrape
        loop.awaitUntil(begun + s.options().duration().toNanos());
        long messages = loop.completed.sum() - before;
        Latency.Summary latency = loop.latency.take();
        double seconds = (System.nanoTime() - begun) / 1e9;
        atEnd.run();
        Resources resources = window.end();
        return loop.finish(s, messages, seconds, latency, resources);
    }

    private Measured finish(Session s, long messages, double seconds, Latency.Summary latency, Resources resources) {
        stopping = true;
        List<String> notes = new ArrayList<>();
        try {
            if (!stopped.await(30, TimeUnit.SECONDS)) {
                notes.add(stopped.getCount() + " calls still unanswered 30 s after the run (cancelled)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (errors.sum() > 0) {
            notes.add(errors.sum() + " of " + workers + " workers stopped by an error; first: " + firstError.get());
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        return new Measured(messages, seconds, latency, errors.sum(), resources, notes);
    }

    private void next(int worker) {
        if (stopping) {
            stopped.countDown();
            return;
        }
        long sent = System.nanoTime();
        call.start(worker, (messages, error) -> {
            if (error != null) {
                errors.increment();
                firstError.compareAndSet(null, describe(error));
                stopped.countDown();
                return;
            }
            latency.record(System.nanoTime() - sent);
            completed.add(messages);
            next(worker);
        });
    }

    /** Waits until {@code deadline}, or less when every worker has stopped. */
    private void awaitUntil(long deadline) {
        try {
            stopped.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A status as CODE: description. */
    static String describe(Throwable error) {
        Status status = Status.fromThrowable(error);
        return status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
    }
}
