package io.sluice.delivery;

import java.util.function.BooleanSupplier;

/**
 * What one Subscribe stream holds of the delivery budget ({@link DeliveryBudget}): the room it took
 * before reading, then, charged instead, what it really holds: messages read and not sent yet, and
 * messages sent since its transport was last seen ready (the transport still holds them for a client
 * that has not read them). A stream whose client has not shown that it reads (the transport has not
 * taken {@link #PROVEN_BYTES} from it, more than a client's flow-control window holds unread) reads
 * {@link #FIRST_BATCH_BYTES} at a time and nothing ahead: a client that never reads holds about one
 * message's room, so many of them leave room for the subscribers that read. At the end, what was sent
 * stays charged until the call is over in the transport ({@link TransportHold}). The stream's loop
 * thread only, but {@link #transportClosed}.
 */
final class StreamHolding {
    static final long FIRST_BATCH_BYTES = 64 << 10;
    static final long PROVEN_BYTES = 2L << 20;

    private final DeliveryBudget budget;
    private final TransportHold transportHold;
    private long charged;     // this stream's bytes in the budget
    private long sentBytes;   // sent since the transport was last seen ready
    private long takenBytes;  // what the transport took from this stream so far (counted up to PROVEN_BYTES)

    StreamHolding(DeliveryBudget budget) {
        this.budget = budget;
        this.transportHold = new TransportHold(budget);
    }

    /** What one read may hold: {@link Subscription#BATCH_BYTES} once the client has shown that it reads. */
    long batchBytes() {
        return reads() ? Subscription.BATCH_BYTES : FIRST_BATCH_BYTES;
    }

    /** True once the client has shown that it reads; until then the stream reads nothing ahead. */
    boolean reads() {
        return takenBytes >= PROVEN_BYTES;
    }

    /**
     * Before a read: takes room for {@code batches} batches (one until the client has shown that it
     * reads) of the largest size a read may return, waiting a while at most, and no longer once
     * {@code gone}; false when the budget has none yet (the loop comes back to it).
     */
    boolean reserve(int batches, BooleanSupplier gone) throws InterruptedException {
        long want = (reads() ? batches : 1) * Math.max(batchBytes(), budget.largest());
        if (!budget.take(want, charged, DeliveryBudget.WAIT_NANOS, gone)) {
            return false;
        }
        charged += want;
        return true;
    }

    /** {@code bytes} were sent: they stay charged until the transport is seen ready. */
    void sent(long bytes) {
        sentBytes += bytes;
    }

    /** True while what was sent since the transport was last seen ready is held. */
    boolean holdsSent() {
        return sentBytes > 0;
    }

    /** The transport was seen ready: it took what was sent (the client, or its window, has it). */
    void taken() {
        if (takenBytes < PROVEN_BYTES) {
            takenBytes += sentBytes;
        }
        sentBytes = 0;
    }

    /** Makes the charge what the stream holds now: {@code readBytes} read and not sent, and what it sent. */
    void recharge(long readBytes) {
        long holds = readBytes + sentBytes;
        if (holds > charged) {
            budget.force(holds - charged);
        } else {
            budget.release(charged - holds);
        }
        charged = holds;
    }

    /** The stream ended: gives back what it held, but what it sent, until the transport is done with it. */
    void end() {
        long kept = Math.min(sentBytes, charged);
        budget.release(charged - kept);
        charged = 0;
        transportHold.keep(kept);
    }

    /** The call is over in the transport (any thread): what it held of this stream is given back. */
    void transportClosed() {
        transportHold.closed();
    }
}
