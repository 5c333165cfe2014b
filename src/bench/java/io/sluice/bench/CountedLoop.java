package io.sluice.bench;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Unmeasured load: {@code workers} closed loops share {@code calls} calls, one in flight each, or keep
 * calling until a deadline. Used to fill a backlog and to warm up a broker or an open-loop run. It stops
 * at the first error.
 */
final class CountedLoop {
    private final long calls;
    private final long deadline;   // System.nanoTime() after which no call starts
    private final ClosedLoop.Call call;
    private final AtomicLong next = new AtomicLong();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final CountDownLatch finished;

    private CountedLoop(int workers, long calls, long deadline, ClosedLoop.Call call) {
        this.calls = calls;
        this.deadline = deadline;
        this.call = call;
        this.finished = new CountDownLatch(workers);
    }

    /** Null when all {@code calls} were answered OK within {@code timeoutSeconds}, else what went wrong. */
    static String run(int workers, int calls, long timeoutSeconds, ClosedLoop.Call call) throws InterruptedException {
        return start(new CountedLoop(workers, calls, Long.MAX_VALUE, call), workers, timeoutSeconds);
    }

    /** Null when every call started within {@code duration} was answered OK (30 s more at most), else what went wrong. */
    static String runFor(int workers, Duration duration, ClosedLoop.Call call) throws InterruptedException {
        long deadline = System.nanoTime() + duration.toNanos();
        return start(new CountedLoop(workers, Long.MAX_VALUE, deadline, call), workers, duration.toSeconds() + 30);
    }

    private static String start(CountedLoop loop, int workers, long timeoutSeconds) throws InterruptedException {
        for (int w = 0; w < workers; w++) {
            loop.next(w);
        }
        if (!loop.finished.await(timeoutSeconds, TimeUnit.SECONDS)) {
            loop.failure.compareAndSet(null, "not done within " + timeoutSeconds + " s");
        }
        return loop.failure.get();
    }

    private void next(int worker) {
        if (next.getAndIncrement() >= calls || failure.get() != null || System.nanoTime() - deadline > 0) {
            finished.countDown();
            return;
        }
        call.start(worker, (messages, error) -> {
            if (error != null) {
                failure.compareAndSet(null, ClosedLoop.describe(error));
                finished.countDown();
            } else {
                next(worker);
            }
        });
    }
}
