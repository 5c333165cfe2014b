package io.sluice.delivery;

import io.sluice.store.StoredMessage;
import java.util.List;

/**
 * Messages a subscription read and the store counted delivered (durably), waiting to be sent in
 * order: when the transport stops taking more in the middle of a batch, the rest is sent first next
 * time rather than read and counted again. A count of 0 means the message is not sent (it was
 * dead-lettered or terminated). Used only by its subscription's thread.
 */
final class CountedBatch {
    private List<StoredMessage> messages = List.of();
    private int[] counts = new int[0];
    private int next;
    private long remainingBytes;   // of the messages from next on, as the delivery budget counts them

    /** Takes a new batch; {@code counts} null means every message is a first delivery (browsing). */
    void fill(List<StoredMessage> batch, int[] deliveryCounts) {
        messages = batch;
        counts = deliveryCounts;
        next = 0;
        remainingBytes = 0;
        for (StoredMessage m : batch) {
            remainingBytes += DeliveryBudget.bytesOf(m);
        }
    }

    boolean hasNext() {
        return next < messages.size();
    }

    StoredMessage peek() {
        return messages.get(next);
    }

    /** The delivery count of the message {@link #peek} answers. */
    int count() {
        return counts == null ? 1 : counts[next];
    }

    /** Bytes of the messages not sent yet, as the delivery budget counts them. */
    long remainingBytes() {
        return remainingBytes;
    }

    void advance() {
        remainingBytes -= DeliveryBudget.bytesOf(messages.get(next));
        if (++next >= messages.size()) {
            clear();
        }
    }

    void clear() {
        messages = List.of();
        counts = null;
        next = 0;
        remainingBytes = 0;
    }
}
