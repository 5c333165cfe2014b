package io.sluice.delivery;

import io.grpc.stub.ServerCallStreamObserver;
import io.opentelemetry.api.trace.Span;
import io.sluice.proto.Heartbeat;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.StreamError;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.store.StoredMessage;
import io.sluice.telemetry.Tracing;

/**
 * What one Subscribe stream writes to its client: deliveries (each inside its delivery span),
 * heartbeats, and at the end the StreamError and status of its {@link End}. Written only by the
 * subscription's own thread; remembers when it last sent, for the heartbeat.
 */
final class Downstream {
    private final ServerCallStreamObserver<SubscribeDownstream> out;
    private final SubscriptionSpec spec;
    private final Tracing tracing;
    private long lastSentNanos = System.nanoTime();

    Downstream(ServerCallStreamObserver<SubscribeDownstream> out, SubscriptionSpec spec, Tracing tracing) {
        this.out = out;
        this.spec = spec;
        this.tracing = tracing;
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
        String messageId = m.id().toString();
        Span span = tracing.startDelivery(spec.topic(), spec.group(), messageId, m.sequence(), count, m.attributes());
        try {
            send(SubscribeDownstream.newBuilder().setDelivery(MessageDelivery.newBuilder()
                            .setMessageId(messageId)
                            .setSequence(m.sequence())
                            .setPayload(m.payload())
                            .putAllAttributes(m.attributes())
                            .setTimestamp(m.timestamp())
                            .setDeliveryCount(count))
                    .build());
        } finally {
            span.end();
        }
    }

    void heartbeat(long latestSequence) {
        send(SubscribeDownstream.newBuilder()
                .setHeartbeat(Heartbeat.newBuilder().setTimestamp(System.currentTimeMillis())
                        .setLatestSeq(latestSequence))
                .build());
    }

    /** Sends the StreamError the end calls for (when it has one), then closes with its status. */
    void end(End e) {
        if (e.sendsStreamError()) {
            out.onNext(SubscribeDownstream.newBuilder().setError(StreamError.newBuilder()
                    .setCode(e.code())
                    .setMessage(e.status().getDescription())).build());
        }
        out.onError(e.status().asRuntimeException());
    }

    private void send(SubscribeDownstream message) {
        out.onNext(message);
        lastSentNanos = System.nanoTime();
    }
}
