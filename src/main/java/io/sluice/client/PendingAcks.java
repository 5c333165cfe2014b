package io.sluice.client;

import java.util.ArrayList;
import java.util.List;

/**
 * A subscription's acks not yet sent. In a consumer group acks are cumulative, so only the highest
 * is kept; in a shared group each message is settled on its own, so every id is kept and they go as
 * one BatchAck. They are sent once {@code batch} acks were made since the last send (or by the
 * caller's own timer and at close). Not thread-safe: guarded by the subscription's lock.
 */
final class PendingAcks {
    private final int batch;
    private final boolean shared;
    private Message highest;       // the highest ack not yet sent (batched, or no stream)
    private final List<Message> each = new ArrayList<>();   // shared: every ack not yet sent
    private int made;              // acks made since the last one sent
    private long lastSent = -1;    // highest sequence acked on a stream (cumulative acks only)

    PendingAcks(int batch) {
        this(batch, false);
    }

    PendingAcks(int batch, boolean shared) {
        this.batch = Math.max(1, batch);
        this.shared = shared;
    }

    /** Records an ack; true when the batch is full and it should be sent now. */
    boolean add(Message message) {
        if (shared) {
            each.add(message);
        } else if (highest == null || message.sequence() > highest.sequence()) {
            highest = message;
        }
        return ++made >= batch;
    }

    /** Sends the unsent acks on {@code stream} (none: kept for the next one). */
    void sendOn(Stream stream) {
        if (shared) {
            if (!each.isEmpty() && stream != null && stream.batchAck(each.stream().map(Message::id).toList())) {
                each.clear();
                made = 0;
            }
            return;
        }
        if (highest != null && stream != null && stream.ack(highest.id())) {
            lastSent = Math.max(lastSent, highest.sequence());
            highest = null;
            made = 0;
        }
    }

    /** The highest ack not sent yet (the first, in a shared group), or null. */
    Message unsent() {
        return shared ? (each.isEmpty() ? null : each.getFirst()) : highest;
    }

    /** The highest sequence acked cumulatively on a stream, -1 before any (and always in a shared group). */
    long lastSent() {
        return lastSent;
    }
}
