package io.sluice.server;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The inbound side of a stream whose listener runs on its transport thread, for handlers that may
 * block. Each message becomes a task in a bounded queue that one worker runs in order: a virtual
 * thread started when there is work and ending when the queue is empty (as gRPC's own serializing
 * executor does). The next message is asked of the transport at once, on the transport thread and
 * without a thread hop, while the queue holds fewer than {@link #MAX_TASKS} tasks and
 * {@link #MAX_BYTES} of messages; once it is full, only when the worker has taken it below both. So
 * at most one message is asked for at a time, a consumer whose worker keeps up costs no hop per
 * message, and a client flooding the stream is paced by HTTP/2 flow control once its queue is full.
 *
 * <p>Letting gRPC run the listener on a call executor instead asks for each next message from that
 * executor's thread, which wakes the transport's event loop once per message (an eventfd write and
 * an epoll wake-up): on a consumer acknowledging each message, that was most of the inbound cost.
 */
final class PacedInbound {
    /** Tasks queued for the worker before the transport is asked for no more. */
    static final int MAX_TASKS = 64;
    /** Messages asked for at once when a stream is settled before it ends (a takeover): bounded, as is its window. */
    static final int SETTLE_REQUEST = 4096;
    /** Bytes of queued messages before the transport is asked for no more (one larger message is still taken alone). */
    static final long MAX_BYTES = 1 << 20;

    private final ServerCallStreamObserver<?> call;
    private final Executor transport;
    private final Executor workers;
    private final Consumer<RuntimeException> failed;
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Task> queue = new ArrayDeque<>();
    // Guarded by lock.
    private long bytes;
    private boolean running;   // a worker is draining the queue
    private boolean paused;    // the queue was full when its last message arrived: nothing is asked for
    private long lastArrival = System.nanoTime();
    private final Condition idle = lock.newCondition();   // the worker emptied the queue

    private record Task(Runnable work, long bytes) {
    }

    /**
     * {@code transport} is the call's transport thread as an executor (null when unknown);
     * {@code workers} starts a worker (it runs in the call's context); {@code failed} hears a task's
     * unexpected exception (on the worker, which goes on with the next task) or the workers' refusal
     * to start (on the transport thread, when the broker is stopping; the queue is then dropped).
     */
    PacedInbound(ServerCallStreamObserver<?> call, Executor transport, Executor workers,
                 Consumer<RuntimeException> failed) {
        this.call = call;
        this.transport = transport;
        this.workers = workers;
        this.failed = failed;
    }

    /** Asks the transport for the first message. */
    void start() {
        call.request(1);
    }

    /** Queues a message's work (on the transport thread) and asks for the next message if there is room. */
    void message(Runnable work, long size) {
        add(work, size, true);
    }

    /** Queues work that is not a message (half-close, cancellation): it runs after every message before it. */
    void then(Runnable work) {
        add(work, 0, false);
    }

    private void add(Runnable work, long size, boolean message) {
        boolean ask;
        boolean startWorker;
        lock.lock();
        try {
            queue.add(new Task(work, size));
            bytes += size;
            if (message) {
                lastArrival = System.nanoTime();
            }
            ask = message && roomLocked();
            if (message) {
                paused = !ask;
            }
            startWorker = !running;
            running = true;
        } finally {
            lock.unlock();
        }
        if (ask) {
            call.request(1);
        }
        if (startWorker) {
            try {
                workers.execute(this::drain);
            } catch (RejectedExecutionException e) {
                lock.lock();
                try {
                    queue.clear();
                    bytes = 0;
                    running = false;
                } finally {
                    lock.unlock();
                }
                failed.accept(e);
            }
        }
    }

    /**
     * Asks the transport for up to {@link #SETTLE_REQUEST} more messages (what it holds for this stream
     * unread), then waits until every message received is handled, at most {@code maxNanos}: false
     * when the deadline came first. Any thread but the transport's.
     *
     * <p>The request runs as a task on the transport thread, which hands this listener every message
     * it has read for the stream; a task queued there after it runs once they are all queued here,
     * however long that thread is held up. That is waited for first (when the transport thread is
     * known), then for no message to have come for {@code quietNanos}: acks read after the task
     * (still in the socket when it ran) count too.
     */
    boolean settle(long quietNanos, long maxNanos) throws InterruptedException {
        long deadline = System.nanoTime() + maxNanos;
        try {
            call.request(SETTLE_REQUEST);
        } catch (RuntimeException e) {
            // the call ended meanwhile: what it received is queued already
        }
        if (transport != null) {
            var reached = new CountDownLatch(1);
            try {
                transport.execute(reached::countDown);
            } catch (RejectedExecutionException e) {
                reached.countDown();   // the transport is stopping: it delivers nothing more
            }
            if (!reached.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                return false;
            }
        }
        lock.lock();
        try {
            while (true) {
                long now = System.nanoTime();
                long quietFor = now - lastArrival;
                if (!running && queue.isEmpty() && quietFor >= quietNanos) {
                    return true;
                }
                if (now - deadline >= 0) {
                    return false;
                }
                idle.awaitNanos(Math.min(deadline - now, Math.max(quietNanos - quietFor, 100_000)));
            }
        } finally {
            lock.unlock();
        }
    }

    private boolean roomLocked() {
        return queue.size() < MAX_TASKS && bytes < MAX_BYTES;
    }

    private void drain() {
        while (true) {
            Task task;
            boolean resume;
            lock.lock();
            try {
                task = queue.poll();
                if (task == null) {
                    running = false;
                    idle.signalAll();
                    return;
                }
                bytes -= task.bytes;
                resume = paused && roomLocked();
                if (resume) {
                    paused = false;
                }
            } finally {
                lock.unlock();
            }
            if (resume) {
                call.request(1);   // off the transport thread: one wake-up, only after the queue was full
            }
            try {
                task.work.run();
            } catch (RuntimeException e) {
                failed.accept(e);
            }
        }
    }
}
