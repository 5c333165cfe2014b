package io.sluice.delivery;

import io.opentelemetry.api.trace.Span;
import io.sluice.store.StoredMessage;
import io.sluice.telemetry.Tracing;

/**
 * What one subscription writes to its {@link Downstream}: deliveries (each inside its delivery
 * span), heartbeats, and at the end its {@link End}. Used only by the subscription's own thread;
 * remembers when it last sent, for the heartbeat.
 */
final class Sender {
    private final Downstream out;
    private final SubscriptionSpec spec;
    private final Tracing tracing;
    private long lastSentNanos = System.nanoTime();

    Sender(Downstream out, SubscriptionSpec spec, Tracing tracing) {
        this.out = out;
        this.spec = spec;
        this.tracing = tracing;
    }

    /** See {@link Downstream#settleInbound}: another thread (a takeover's) may call it. */
    boolean settleInbound(long maxNanos) throws InterruptedException {
        return out.settleInbound(maxNanos);
    }

    /** True while the transport takes more without buffering. */
    boolean isReady() {
        return out.isReady();
    }

    long lastSentNanos() {
        return lastSentNanos;
    }

    /** Sends one message inside its delivery span (a no-op span when tracing is off). */
    void deliver(StoredMessage m, int count) {
        Span span = tracing.startDelivery(spec.topic(), spec.group(), m.id().toString(), m.sequence(), count,
                m.attributes());
        try {
            out.deliver(m, count);
            lastSentNanos = System.nanoTime();
        } finally {
            span.end();
        }
    }

    /** Sends the deliveries the transport holds (a batching stream's last, incomplete batch). */
    void flush() {
        out.flush();
    }

    void heartbeat(long latestSequence) {
        out.heartbeat(System.currentTimeMillis(), latestSequence);
        lastSentNanos = System.nanoTime();
    }

    void synced(long id) {
        out.synced(id);
        lastSentNanos = System.nanoTime();
    }

    void end(End e) {
        out.end(e);
    }
}
