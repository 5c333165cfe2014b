package io.sluice.delivery;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What an ended stream's transport may still hold of the messages sent to it (a client that reads
 * nothing): charged to the delivery budget until the call is over in the transport (closed, or reset),
 * so ended streams cannot hold more memory than the budget counts. Any thread.
 */
final class TransportHold {
    private final DeliveryBudget budget;
    private final AtomicLong held = new AtomicLong();   // 0 before the end, -1 once the call is over

    TransportHold(DeliveryBudget budget) {
        this.budget = budget;
    }

    /** At the end: {@code bytes}, charged already, stay charged until {@link #closed} (at once if it came). */
    void keep(long bytes) {
        if (bytes <= 0) {
            return;
        }
        budget.ended.addAndGet(bytes);
        if (!held.compareAndSet(0, bytes)) {
            closed(bytes);
        }
    }

    /** The call is over in the transport: what was kept is given back. */
    void closed() {
        long bytes = held.getAndSet(-1);
        if (bytes > 0) {
            closed(bytes);
        }
    }

    private void closed(long bytes) {
        budget.ended.addAndGet(-bytes);
        budget.release(bytes);
    }
}
