package io.sluice.client;

import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The deliveries of a {@link Subscription} waiting for the application, each with the stream whose
 * credit it used. gRPC's callback thread adds ({@link #accept}); application threads take; the
 * credit window bounds it, since the broker sends no more than the credit granted. Thread-safe.
 *
 * <p>Waking a receiver costs a system call on the adding thread and a context switch, so a receiver
 * that keeps up would pay both for every message. Deliveries arrive on the client's I/O thread in
 * bursts (all the messages of one read): added there, they wake a waiting receiver once, from a task
 * that runs after the burst ({@link #io}), and the receiver then takes them all without waiting.
 * Added on any other thread, they wake it at once. A receiver counts itself in {@link #waiting}
 * before it looks at the queue a last time and waits on {@link #nonEmpty}; an adder reads the count
 * after it added, so one of the two always sees the other.
 */
final class Inbox {
    /** A delivery and the stream it came on; {@link #END} once the subscription has ended. */
    record Inbound(Stream from, Message message) {
    }

    /** Put in the queue when the subscription has ended, to wake every waiting receiver. */
    static final Inbound END = new Inbound(null, null);

    private final int window;
    private final EventExecutor io;
    private final ConcurrentLinkedQueue<Inbound> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    private final AtomicLong handedOut = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition nonEmpty = lock.newCondition();
    private final AtomicBoolean wakeScheduled = new AtomicBoolean();
    private final Runnable wakeTask = () -> {
        wakeScheduled.set(false);
        wakeNow();
    };
    private volatile int waiting;   // written under lock
    private volatile long lastSequence = -1;

    /** An inbox of at most {@code window} deliveries; those added on {@code io} wake receivers after their burst. */
    Inbox(int window, EventExecutor io) {
        this.window = window;
        this.io = io;
    }

    /** Queues a delivery unless a window of them already waits (the broker broke the credit contract). */
    boolean accept(Stream from, Message message) {
        if (size.get() >= window) {
            return false;
        }
        size.incrementAndGet();
        queue.add(new Inbound(from, message));
        if (waiting > 0) {
            if (io.inEventLoop()) {
                if (!wakeScheduled.get() && wakeScheduled.compareAndSet(false, true)) {
                    io.execute(wakeTask);
                }
            } else {
                wakeNow();
            }
        }
        return true;
    }

    private void wakeNow() {
        lock.lock();
        try {
            nonEmpty.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The next delivery, counted as handed out; {@link #END} once ended; null on timeout
     * ({@code timeoutNanos < 0}: wait without one). Blocks while the queue is empty.
     */
    Inbound take(long timeoutNanos) throws InterruptedException {
        Inbound in = queue.poll();
        if (in == null) {
            in = await(timeoutNanos);
        }
        return handOut(in);
    }

    private Inbound await(long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        lock.lockInterruptibly();
        try {
            waiting++;
            try {
                Inbound in;
                while ((in = queue.poll()) == null) {
                    if (timeoutNanos < 0) {
                        nonEmpty.await();
                    } else {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            return null;
                        }
                        nonEmpty.awaitNanos(left);
                    }
                }
                return in;
            } finally {
                waiting--;
            }
        } finally {
            lock.unlock();
        }
    }

    private Inbound handOut(Inbound in) {
        if (in == null) {
            return null;
        }
        if (in == END) {
            end();   // for the next receiver
            return END;
        }
        size.decrementAndGet();
        in.from().handedOut();
        handedOut.incrementAndGet();
        lastSequence = in.message().sequence();
        return in;
    }

    /** Drops what an ended stream delivered and nobody took: it comes again on the next stream. */
    void dropFrom(Stream s) {
        for (Iterator<Inbound> it = queue.iterator(); it.hasNext(); ) {
            Inbound in = it.next();
            if (in.from() == s && queue.remove(in)) {
                size.decrementAndGet();
            }
        }
    }

    /** Wakes every receiver, now and later, with {@link #END}. */
    void end() {
        queue.add(END);
        wakeNow();
    }

    /** How many deliveries were handed to the application in all. */
    long handedOut() {
        return handedOut.get();
    }

    /** The sequence of the last delivery handed out, or -1. */
    long lastSequence() {
        return lastSequence;
    }
}
