package io.sluice.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.sluice.delivery.Downstream;
import io.sluice.delivery.End;
import io.sluice.domain.SluiceException;
import io.sluice.proto.AckSynced;
import io.sluice.proto.DeliveryBatch;
import io.sluice.proto.Heartbeat;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.StreamError;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.store.StoredMessage;

/**
 * The Subscribe call's response stream as delivery's {@link Downstream}: builds the protocol's
 * messages, and maps each way a stream ends to its StreamError and status (the one place that
 * does). Called only by the subscription's thread.
 *
 * <p>On a stream whose init asked for batches ({@code max_batch} above 1), deliveries are gathered
 * into a {@code DeliveryBatch} of at most that many, and at most {@link #BATCH_BYTES} of messages
 * (a larger message goes alone), sent when full and at each {@link #flush}: one gRPC message, one
 * frame and one flush for the lot instead of one each.
 */
final class SubscribeStream implements Downstream {
    /** The most deliveries a stream may ask to have sent together. */
    static final int MAX_BATCH = 1000;
    /** A batch is sent once its messages reach this size, so it stays well under a client's 4 MiB default. */
    static final int BATCH_BYTES = 1 << 20;

    /**
     * How long a stream being taken over must have received nothing, once its transport thread has
     * handed over what it held, before its acks count as all in ({@link PacedInbound#settle}).
     */
    static final long SETTLE_QUIET_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(20);

    private final ServerCallStreamObserver<SubscribeDownstream> out;
    private final PacedInbound inbound;
    private final int maxBatch;
    private final Runnable resetIfStuck;
    private DeliveryBatch.Builder batch;   // deliveries not sent yet (batching streams only)
    private int batchBytes;

    /** {@code maxBatch}: deliveries per DeliveryBatch, 1 for one MessageDelivery per message. */
    SubscribeStream(ServerCallStreamObserver<SubscribeDownstream> out, PacedInbound inbound, int maxBatch,
                    Runnable resetIfStuck) {
        this.resetIfStuck = resetIfStuck;
        this.out = out;
        this.inbound = inbound;
        this.maxBatch = Math.max(1, maxBatch);
    }

    @Override
    public boolean settleInbound(long maxNanos) throws InterruptedException {
        return inbound.settle(SETTLE_QUIET_NANOS, maxNanos);
    }

    @Override
    public boolean isReady() {
        return out.isReady();
    }

    @Override
    public void deliver(StoredMessage m, int deliveryCount) {
        MessageDelivery d = MessageDelivery.newBuilder()
                .setMessageId(m.id().toString())
                .setSequence(m.sequence())
                .setPayload(m.payload())
                .putAllAttributes(m.attributes())
                .setTimestamp(m.timestamp())
                .setDeliveryCount(deliveryCount)
                .build();
        if (maxBatch == 1) {
            out.onNext(SubscribeDownstream.newBuilder().setDelivery(d).build());
            return;
        }
        int size = d.getSerializedSize();
        if (batch != null && batchBytes + size > BATCH_BYTES) {
            flush();
        }
        if (batch == null) {
            batch = DeliveryBatch.newBuilder();
        }
        batch.addDeliveries(d);
        batchBytes += size;
        if (batch.getDeliveriesCount() >= maxBatch) {
            flush();
        }
    }

    @Override
    public void flush() {
        if (batch == null) {
            return;
        }
        DeliveryBatch full = batch.build();
        batch = null;
        batchBytes = 0;
        out.onNext(SubscribeDownstream.newBuilder().setDeliveries(full).build());
    }

    @Override
    public void heartbeat(long timestampMillis, long latestSequence) {
        flush();
        out.onNext(SubscribeDownstream.newBuilder()
                .setHeartbeat(Heartbeat.newBuilder().setTimestamp(timestampMillis).setLatestSeq(latestSequence))
                .build());
    }

    @Override
    public void synced(long id) {
        flush();
        out.onNext(SubscribeDownstream.newBuilder().setSynced(AckSynced.newBuilder().setId(id)).build());
    }

    /** Sends the StreamError the end calls for (when it has one), then closes with its status. */
    @Override
    public void end(End reason) {
        if (reason.kind() != End.Kind.CANCELLED) {
            flush();   // spent and counted: sent before the end, as single deliveries would have been
        }
        Status status = statusOf(reason);
        String code = streamErrorCode(reason);
        if (code != null) {
            out.onNext(SubscribeDownstream.newBuilder().setError(StreamError.newBuilder()
                    .setCode(code)
                    .setMessage(status.getDescription())).build());
        }
        out.onError(status.asRuntimeException());
        if (reason.kind() != End.Kind.CANCELLED) {
            // The status goes after what was sent before it: a client that reads none of that would keep it
            // all in the transport for as long as its connection lives. Unless the call closes meanwhile,
            // its stream is reset (CallResets.GRACE_SECONDS).
            resetIfStuck.run();
        }
    }

    /** The status a stream ends with. */
    static Status statusOf(End reason) {
        return switch (reason.kind()) {
            case TAKEN_OVER -> Status.ABORTED.withDescription("another stream of this consumer group took over");
            case TOPIC_DELETED -> Status.NOT_FOUND.withDescription("the topic was deleted");
            case GROUP_DELETED -> Status.NOT_FOUND.withDescription("the consumer group was deleted");
            case CURSOR_RESET -> Status.ABORTED.withDescription("the consumer group's cursor was reset (ResetCursor): "
                    + "the messages leased to this stream are no longer its own; subscribe again to go on from the "
                    + "new cursor");
            case SHUTTING_DOWN -> Status.UNAVAILABLE.withDescription("the broker is shutting down");
            case CANCELLED -> Status.CANCELLED;
            case FAILED -> Status.fromCode(Statuses.codeOf(reason.error())).withDescription(reason.error().getMessage());
            case INTERNAL -> Status.INTERNAL.withDescription(reason.detail());
        };
    }

    /**
     * The StreamError code sent before the status of a deliberate end, and of a stream whose grant
     * was withdrawn (as for one refused at its start); null for the others.
     */
    static String streamErrorCode(End reason) {
        return switch (reason.kind()) {
            case TAKEN_OVER, TOPIC_DELETED, GROUP_DELETED, CURSOR_RESET, SHUTTING_DOWN -> reason.kind().name();
            case FAILED -> switch (reason.error()) {
                case SluiceException.PermissionDenied x -> "PERMISSION_DENIED";
                case SluiceException.Unauthenticated x -> "UNAUTHENTICATED";
                default -> null;
            };
            case CANCELLED, INTERNAL -> null;
        };
    }
}
