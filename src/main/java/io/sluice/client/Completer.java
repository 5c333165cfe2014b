package io.sluice.client;

import io.sluice.client.PublishCall.Pending;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Completes the futures of a {@link Pipeline}'s publishes. The stream's answers arrive on the
 * client's I/O thread, which must never run application code: a callback chained to a
 * {@code publishAsync} future may block, even publish and wait. So the future of a publish nobody
 * chains to (a blocking {@code publish} only waits on it) is completed where the answer arrives,
 * and every other one is queued for {@link #callbacks}, one thread that completes what is queued
 * in a batch, one hop per batch rather than per message. Any thread may call {@link #complete} and
 * {@link #fail}; a future completed off the I/O thread is completed at once.
 */
final class Completer {
    private final Executor callbacks;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final ThreadLocal<Boolean> running = new ThreadLocal<>();
    private final Runnable drain = this::drain;

    /** {@code callbacks} runs the batches, one at a time. */
    Completer(Executor callbacks) {
        this.callbacks = callbacks;
    }

    /** True on the thread completing queued futures (running their callbacks), which must not wait for an answer. */
    boolean onCallbackThread() {
        return running.get() != null;
    }

    void complete(Pending p, Published answer, boolean onIoThread) {
        if (p.waiting || !onIoThread) {
            p.complete(answer);
        } else {
            p.answer = answer;
            enqueue(p);
        }
    }

    void fail(Pending p, SluiceClientException error, boolean onIoThread) {
        if (p.waiting || !onIoThread) {
            p.fail(error);
        } else {
            p.error = error;
            enqueue(p);
        }
    }

    private void enqueue(Pending p) {
        queue.add(p);
        if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
            try {
                callbacks.execute(drain);
            } catch (RejectedExecutionException e) {
                drain();   // the client has closed its callback thread: the last answers complete here
            }
        }
    }

    private void drain() {
        running.set(Boolean.TRUE);
        try {
            scheduled.set(false);
            for (Pending p; (p = queue.poll()) != null; ) {
                if (p.error != null) {
                    p.fail(p.error);
                } else {
                    p.complete(p.answer);
                }
            }
        } finally {
            running.remove();
        }
    }
}
