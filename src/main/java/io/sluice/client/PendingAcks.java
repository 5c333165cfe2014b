package io.sluice.client;

/**
 * A subscription's acks not yet sent. Acks are cumulative, so only the highest is kept; it is sent
 * once {@code batch} acks were made since the last one sent (or by the caller's own timer and at
 * close). Not thread-safe: guarded by the subscription's lock.
 */
final class PendingAcks {
    private final int batch;
    private Message highest;       // the highest ack not yet sent (batched, or no stream)
    private int made;              // acks made since the last one sent
    private long lastSent = -1;    // highest sequence acked on a stream

    PendingAcks(int batch) {
        this.batch = Math.max(1, batch);
    }

    /** Records an ack; true when the batch is full and it should be sent now. */
    boolean add(Message message) {
        if (highest == null || message.sequence() > highest.sequence()) {
            highest = message;
        }
        return ++made >= batch;
    }

    /** Sends the highest unsent ack on {@code stream} (none: kept for the next one). */
    void sendOn(Stream stream) {
        if (highest != null && stream != null && stream.ack(highest.id())) {
            lastSent = Math.max(lastSent, highest.sequence());
            highest = null;
            made = 0;
        }
    }

    /** The highest ack not sent yet, or null. */
    Message unsent() {
        return highest;
    }

    /** The highest sequence acked on a stream, -1 before any. */
    long lastSent() {
        return lastSent;
    }
}
