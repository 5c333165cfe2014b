package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Where an exclusive (or browsing) subscription gets the messages it sends: read from the topic and
 * counted delivered by the store (durably) before they are handed out. While one batch is being
 * sent, the next ones (as many as the credit allows, up to {@link #AHEAD_BATCHES} batches and a
 * batch's bytes of payload, {@link StreamLoop#batchBytes}) are read and their counts requested, so the counts'
 * commits overlap with the sending and one commit's latency is paid for several batches.
 * A count of 0 means the message is not to be sent (dead-lettered or terminated). Used only by its
 * subscription's thread.
 */
final class CountedReader {
    private final Store store;
    private final SubscriptionSpec spec;
    private final LongSupplier credit;   // the credit available now (read under the subscription's lock)
    private final DeliveryBudget budget;
    private final LongSupplier batchBytes;   // what one read may hold (the stream's, see StreamLoop#batchBytes)
    private final BooleanSupplier readAhead; // false while the client has not shown that it reads, or a reset is stored
    /** The group's claim the counts are made under (set by the subscription's open). */
    long claim = Store.NO_CLAIM;
    /** Most batches read and being counted ahead of the one being sent. */
    static final int AHEAD_BATCHES = 4;

    /** A batch read ahead and its count (null when browsing). */
    private record Ahead(List<StoredMessage> batch, Pending<DeliveryCounts> count, long bytes) {
    }

    final CountedBatch carry = new CountedBatch();   // counted, not sent yet
    private final ArrayDeque<Ahead> ahead = new ArrayDeque<>();
    private int aheadMessages;
    private long aheadBytes;
    private long readTo;                             // the last sequence read (carry or ahead)

    CountedReader(Store store, SubscriptionSpec spec, LongSupplier credit, DeliveryBudget budget,
                  LongSupplier batchBytes, BooleanSupplier readAhead) {
        this.store = store;
        this.spec = spec;
        this.credit = credit;
        this.budget = budget;
        this.batchBytes = batchBytes;
        this.readAhead = readAhead;
    }

    /** Bytes of the messages read and not sent yet (the carry's rest and the batches ahead). */
    long heldBytes() {
        return carry.remainingBytes() + aheadBytes;
    }

    /** True while counted messages wait to be sent, or the next batch is being counted. */
    boolean pending() {
        return carry.hasNext() || !ahead.isEmpty();
    }

    /** The position moved (an operator reset the cursor): what was read is dropped. */
    void clear() {
        carry.clear();
        ahead.clear();
        aheadMessages = 0;
        aheadBytes = 0;
    }

    /**
     * Makes {@link #carry} hold counted messages after {@code position} (when it holds none yet) and
     * starts counting the batch after them; false when there is nothing to read.
     */
    boolean refill(long position) throws InterruptedException {
        if (carry.hasNext()) {
            return true;
        }
        if (ahead.isEmpty()) {
            readTo = position;
            if (!readAhead(0)) {
                return false;
            }
        }
        Ahead next = ahead.poll();
        aheadMessages -= next.batch().size();
        aheadBytes -= next.bytes();
        carry.fill(next.batch(), next.count() == null ? null : next.count().await().counts());
        int held = next.batch().size();
        try {
            while (readAhead.getAsBoolean() && ahead.size() < AHEAD_BATCHES && aheadBytes < batchBytes.getAsLong()
                    && readAhead(held + aheadMessages)) {
                // each batch read is counted in the store meanwhile
            }
        } catch (SluiceException.Corrupted damage) {
            // A damaged message ahead: the intact ones before it are sent first; reading at it again
            // (with nothing ahead) ends the stream naming it.
        }
        return true;
    }

    /**
     * Reads the batch after the last one read that the credit allows beyond the {@code held} messages
     * not sent yet, and asks the store to count it (not waiting); false when there is nothing to read.
     */
    private boolean readAhead(int held) {
        long allowed = credit.getAsLong() - held;
        if (allowed <= 0) {
            return false;
        }
        List<StoredMessage> batch = store.read(spec.topic(), readTo, (int) Math.min(allowed, Subscription.BATCH),
                batchBytes.getAsLong());
        if (batch.isEmpty()) {
            return false;
        }
        Pending<DeliveryCounts> count = null;
        if (!spec.browse()) {
            count = new Pending<>();
            store.countDeliveries(spec.topic(), spec.group(), claim, sequences(batch), count);
        }
        long bytes = 0;
        for (StoredMessage m : batch) {
            long b = DeliveryBudget.bytesOf(m);
            budget.noteMessage(b);
            bytes += b;
        }
        ahead.add(new Ahead(batch, count, bytes));
        aheadMessages += batch.size();
        aheadBytes += bytes;
        readTo = batch.getLast().sequence();
        return true;
    }

    /** The delivery counts of messages about to be sent, waiting for the store (0: not to be sent). */
    int[] countNow(List<StoredMessage> batch) throws InterruptedException {
        var counted = new Pending<DeliveryCounts>();
        store.countDeliveries(spec.topic(), spec.group(), claim, sequences(batch), counted);
        return counted.await().counts();
    }

    private static List<Long> sequences(List<StoredMessage> batch) {
        var out = new ArrayList<Long>(batch.size());
        batch.forEach(m -> out.add(m.sequence()));
        return out;
    }
}
