package io.sluice.client;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The deliveries of a {@link Subscription} waiting for the application, each with the stream whose
 * credit it used. gRPC's callback thread adds ({@link #accept}); application threads take; the
 * credit window bounds it, since the broker sends no more than the credit granted. Thread-safe.
 */
final class Inbox {
    /** A delivery and the stream it came on; {@link #END} once the subscription has ended. */
    record Inbound(Stream from, Message message) {
    }

    /** Put in the queue when the subscription has ended, to wake every waiting receiver. */
    static final Inbound END = new Inbound(null, null);

    private final int window;
    private final BlockingQueue<Inbound> queue = new LinkedBlockingQueue<>();
    private final AtomicLong handedOut = new AtomicLong();
    private volatile long lastSequence = -1;

    Inbox(int window) {
        this.window = window;
    }

    /** Queues a delivery unless a window of them already waits (the broker broke the credit contract). */
    boolean accept(Stream from, Message message) {
        if (queue.size() >= window) {
            return false;
        }
        queue.add(new Inbound(from, message));
        return true;
    }

    /**
     * The next delivery, counted as handed out; {@link #END} once ended; null on timeout
     * ({@code timeoutNanos < 0}: wait without one). Blocks on the queue.
     */
    Inbound take(long timeoutNanos) throws InterruptedException {
        return handOut(timeoutNanos < 0 ? queue.take() : queue.poll(timeoutNanos, TimeUnit.NANOSECONDS));
    }

    private Inbound handOut(Inbound in) {
        if (in == null) {
            return null;
        }
        if (in == END) {
            queue.add(END);   // for the next receiver
            return END;
        }
        in.from().handedOut();
        handedOut.incrementAndGet();
        lastSequence = in.message().sequence();
        return in;
    }

    /** Drops what an ended stream delivered and nobody took: it comes again on the next stream. */
    void dropFrom(Stream s) {
        queue.removeIf(in -> in.from() == s);
    }

    /** Wakes every receiver, now and later, with {@link #END}. */
    void end() {
        queue.add(END);
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
