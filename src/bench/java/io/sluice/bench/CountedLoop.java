package io.sluice.bench;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Untimed load of a fixed number of calls: {@code workers} closed loops share {@code calls} calls, one in
 * flight each. Used to fill a backlog and to warm up before an open-loop run. It stops at the first error.
 */
final class CountedLoop {
    private final int calls;
    private final ClosedLoop.Call call;
    private final AtomicLong next = new AtomicLong();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final CountDownLatch finished;

    private CountedLoop(int workers, int calls, ClosedLoop.Call call) {
        this.calls = calls;
        this.call = call;
        this.finished = new CountDownLatch(workers);
    }

    /** Null when all {@code calls} were answered OK within {@code timeoutSeconds}, else what went wrong. */
    static String run(int workers, int calls, long timeoutSeconds, ClosedLoop.Call call) throws InterruptedException {
        var loop = new CountedLoop(workers, calls, call);
        for (int w = 0; w < workers; w++) {
            loop.next(w);
        }
        if (!loop.finished.await(timeoutSeconds, TimeUnit.SECONDS)) {
            loop.failure.compareAndSet(null, "not done within " + timeoutSeconds + " s");
        }
        return loop.failure.get();
    }

    private void next(int worker) {
        if (next.getAndIncrement() >= calls || failure.get() != null) {
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
