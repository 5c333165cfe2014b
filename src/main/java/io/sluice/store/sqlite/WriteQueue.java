package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The writer's queue and its admission: blocking submitters hold one of a bounded number of slots
 * until the writer takes their operation; paced submitters bound themselves. An operation that
 * arrives while the writer refuses writes or is stopping fails at once with the reason. Submitted
 * from any thread; drained by the writer thread only.
 */
final class WriteQueue {
    private final BlockingQueue<WriteOp<?>> queue = new LinkedBlockingQueue<>();
    private final Semaphore slots;   // capacity left for blocking submitters
    private volatile boolean accepting = true;
    private volatile boolean stopped;
    private volatile String refusal;   // set after a failure that makes further writes unsafe

    WriteQueue(int capacity) {
        this.slots = new Semaphore(capacity);
    }

    /** Queues an operation; blocks while the queue is full. Fails the operation when the writer has stopped. */
    void submit(WriteOp<?> op) throws InterruptedException {
        if (refused(op)) {
            return;
        }
        slots.acquire();
        op.holdsSlot = true;
        enqueue(op);
    }

    /**
     * Queues an operation when the queue has room now: true when it was taken (or failed at once
     * because the writer refuses writes), false, queuing nothing, when the queue is full.
     */
    boolean trySubmit(WriteOp<?> op) {
        if (refused(op)) {
            return true;
        }
        if (!slots.tryAcquire()) {
            return false;
        }
        op.holdsSlot = true;
        enqueue(op);
        return true;
    }

    /** Queues an operation without waiting for capacity; the caller bounds how many it has queued. */
    void submitPaced(WriteOp<?> op) {
        if (!refused(op)) {
            enqueue(op);
        }
    }

    /** Fails the operation at once when the writer is stopping or refuses writes; true when it did. */
    private boolean refused(WriteOp<?> op) {
        String why = !accepting ? "the broker is shutting down" : refusal;
        if (why == null) {
            return false;
        }
        op.fail(new SluiceException.Unavailable(why));
        return true;
    }

    private void enqueue(WriteOp<?> op) {
        queue.add(op);
        // Lost a race with close(): the writer may already have drained its last batch.
        if (stopped && queue.remove(op)) {
            release(op);
            op.fail(new SluiceException.Unavailable("the broker is shutting down"));
        }
    }

    /** The operation left the queue: a blocking submitter may take its slot. */
    void release(WriteOp<?> op) {
        if (op.holdsSlot) {
            op.holdsSlot = false;
            slots.release();
        }
    }

    /** How many operations wait for the writer now. */
    int depth() {
        return queue.size();
    }

    WriteOp<?> take() throws InterruptedException {
        return queue.take();
    }

    /** The next operation, waiting at most {@code nanos} (not at all when 0 or less); null when none came. */
    WriteOp<?> poll(long nanos) throws InterruptedException {
        return nanos > 0 ? queue.poll(nanos, TimeUnit.NANOSECONDS) : queue.poll();
    }

    void drainTo(List<WriteOp<?>> batch, int max) {
        queue.drainTo(batch, max);
    }

    /** Why every write is refused from now on, or null while writes are taken. */
    String refusal() {
        return refusal;
    }

    /** Refuses every later write with {@code reason}; true the first time. */
    boolean refuse(String reason) {
        boolean first = refusal == null;
        refusal = reason;
        return first;
    }

    /** False once {@link #stopAccepting} was called. */
    boolean accepting() {
        return accepting;
    }

    /** Takes no more operations from now on (those already queued are still drained). */
    void stopAccepting() {
        accepting = false;
    }

    /** Queues the writer's stop marker behind everything queued. */
    void putStop() throws InterruptedException {
        queue.put(new WriteOp.Stop());
    }

    /** The writer drains no more: whatever is queued now or later fails with {@code reason}. */
    void stopped(String reason) {
        stopped = true;
        var left = new ArrayList<WriteOp<?>>();
        queue.drainTo(left);
        for (WriteOp<?> op : left) {
            release(op);
            op.fail(new SluiceException.Unavailable(reason));
        }
    }
}
