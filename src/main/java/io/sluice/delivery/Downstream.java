package io.sluice.delivery;

import io.sluice.store.StoredMessage;

/**
 * Where one subscription writes: the transport's side of a stream, adapted by the server. Called
 * only by the subscription's own thread, one call at a time.
 */
public interface Downstream {

    /** True while the transport takes more without buffering (when it becomes ready again, the server wakes the subscription). */
    boolean isReady();

    /**
     * Sends one message, the {@code deliveryCount}-th delivery of it to the group; a transport that
     * batches deliveries may hold it until {@link #flush}.
     */
    void deliver(StoredMessage message, int deliveryCount);

    /** Sends what {@link #deliver} holds, if anything; called after each run of deliveries. */
    default void flush() {
    }

    /** Tells the consumer the stream is alive and the topic's last sequence. */
    void heartbeat(long timestampMillis, long latestSequence);

    /** Tells the consumer that the settles it sent before its AckSync {@code id} (and earlier ones) are applied. */
    void synced(long id);

    /** Ends the stream for {@code reason}; nothing is sent after it. Not called for {@link End#CANCELLED}. */
    void end(End reason);

    /**
     * Waits until every upstream message the server holds for this stream (queued, or buffered in the
     * transport unread) has been handed to the subscription and none has come for a moment; at most
     * {@code maxNanos}: false when that deadline passed first. A takeover waits for it ({@link
     * Subscription#handOver}). Unlike the rest, called by another thread (the new stream's). By default
     * true at once: a transport that holds nothing it received has nothing to wait for.
     */
    default boolean settleInbound(long maxNanos) throws InterruptedException {
        return true;
    }
}
