package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Where an exclusive (or browsing) subscription gets the messages it sends: read from the topic and
 * counted delivered by the store (durably) before they are handed out. While one batch is being
 * sent, the next is read and its count requested, so the count's commit overlaps with the sending.
 * A count of 0 means the message is not to be sent (dead-lettered or terminated). Used only by its
 * subscription's thread.
 */
final class CountedReader {
    private final Store store;
    private final SubscriptionSpec spec;
    private final LongSupplier credit;   // the credit available now (read under the subscription's lock)
    final CountedBatch carry = new CountedBatch();   // counted, not sent yet
    private List<StoredMessage> ahead;               // the next batch, read, being counted
    private Pending<DeliveryCounts> aheadCount;      // its count (null when browsing)
    private SluiceException unreadable;              // the read ahead failed: thrown once the carry is sent

    CountedReader(Store store, SubscriptionSpec spec, LongSupplier credit) {
        this.store = store;
        this.spec = spec;
        this.credit = credit;
    }

    /** True while counted messages wait to be sent, or the next batch is being counted. */
    boolean pending() {
        return carry.hasNext() || ahead != null || unreadable != null;
    }

    /** The position moved (an operator reset the cursor): what was read is dropped. */
    void clear() {
        carry.clear();
        ahead = null;
        aheadCount = null;
        unreadable = null;
    }

    /**
     * Makes {@link #carry} hold counted messages after {@code position} (when it holds none yet) and
     * starts counting the batch after them; false when there is nothing to read.
     */
    boolean refill(long position) throws InterruptedException {
        if (carry.hasNext()) {
            return true;
        }
        if (unreadable != null) {
            // What comes after the messages just sent cannot be read (a damaged message): say so now.
            SluiceException e = unreadable;
            unreadable = null;
            throw e;
        }
        if (ahead == null && !readAhead(position, 0)) {
            return false;
        }
        carry.fill(ahead, aheadCount == null ? null : aheadCount.await().counts());
        long last = ahead.getLast().sequence();
        int held = ahead.size();
        ahead = null;
        aheadCount = null;
        try {
            readAhead(last, held);
        } catch (SluiceException e) {
            unreadable = e;   // the messages before it are sent first
        }
        return true;
    }

    /**
     * Reads the batch after {@code after} that the credit allows beyond the {@code held} messages not
     * sent yet, and asks the store to count it (not waiting); false when there is nothing to read.
     */
    private boolean readAhead(long after, int held) {
        long allowed = credit.getAsLong() - held;
        if (allowed <= 0) {
            return false;
        }
        List<StoredMessage> batch = store.read(spec.topic(), after, (int) Math.min(allowed, Subscription.BATCH),
                Subscription.BATCH_BYTES);
        if (batch.isEmpty()) {
            return false;
        }
        ahead = batch;
        if (!spec.browse()) {
            aheadCount = new Pending<>();
            store.countDeliveries(spec.topic(), spec.group(), sequences(batch), aheadCount);
        }
        return true;
    }

    /** The delivery counts of messages about to be sent, waiting for the store (0: not to be sent). */
    int[] countNow(List<StoredMessage> batch) throws InterruptedException {
        var counted = new Pending<DeliveryCounts>();
        store.countDeliveries(spec.topic(), spec.group(), sequences(batch), counted);
        return counted.await().counts();
    }

    private static List<Long> sequences(List<StoredMessage> batch) {
        var out = new ArrayList<Long>(batch.size());
        batch.forEach(m -> out.add(m.sequence()));
        return out;
    }
}
