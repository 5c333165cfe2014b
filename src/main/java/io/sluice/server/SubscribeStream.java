package io.sluice.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.sluice.delivery.Downstream;
import io.sluice.delivery.End;
import io.sluice.proto.Heartbeat;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.StreamError;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.store.StoredMessage;

/**
 * The Subscribe call's response stream as delivery's {@link Downstream}: builds the protocol's
 * messages, and maps each way a stream ends to its StreamError and status (the one place that
 * does). Called only by the subscription's thread.
 */
final class SubscribeStream implements Downstream {
    private final ServerCallStreamObserver<SubscribeDownstream> out;

    SubscribeStream(ServerCallStreamObserver<SubscribeDownstream> out) {
        this.out = out;
    }

    @Override
    public boolean isReady() {
        return out.isReady();
    }

    @Override
    public void deliver(StoredMessage m, int deliveryCount) {
        out.onNext(SubscribeDownstream.newBuilder().setDelivery(MessageDelivery.newBuilder()
                        .setMessageId(m.id().toString())
                        .setSequence(m.sequence())
                        .setPayload(m.payload())
                        .putAllAttributes(m.attributes())
                        .setTimestamp(m.timestamp())
                        .setDeliveryCount(deliveryCount))
                .build());
    }

    @Override
    public void heartbeat(long timestampMillis, long latestSequence) {
        out.onNext(SubscribeDownstream.newBuilder()
                .setHeartbeat(Heartbeat.newBuilder().setTimestamp(timestampMillis).setLatestSeq(latestSequence))
                .build());
    }

    /** Sends the StreamError the end calls for (when it has one), then closes with its status. */
    @Override
    public void end(End reason) {
        Status status = statusOf(reason);
        String code = streamErrorCode(reason);
        if (code != null) {
            out.onNext(SubscribeDownstream.newBuilder().setError(StreamError.newBuilder()
                    .setCode(code)
                    .setMessage(status.getDescription())).build());
        }
        out.onError(status.asRuntimeException());
    }

    /** The status a stream ends with. */
    static Status statusOf(End reason) {
        return switch (reason.kind()) {
            case TAKEN_OVER -> Status.ABORTED.withDescription("another stream of this consumer group took over");
            case TOPIC_DELETED -> Status.NOT_FOUND.withDescription("the topic was deleted");
            case SHUTTING_DOWN -> Status.UNAVAILABLE.withDescription("the broker is shutting down");
            case CANCELLED -> Status.CANCELLED;
            case FAILED -> Status.fromCode(Statuses.codeOf(reason.error())).withDescription(reason.error().getMessage());
            case INTERNAL -> Status.INTERNAL.withDescription(reason.detail());
        };
    }

    /** The StreamError code sent before the status of a deliberate end; null for the others. */
    static String streamErrorCode(End reason) {
        return switch (reason.kind()) {
            case TAKEN_OVER, TOPIC_DELETED, SHUTTING_DOWN -> reason.kind().name();
            case CANCELLED, FAILED, INTERNAL -> null;
        };
    }
}
