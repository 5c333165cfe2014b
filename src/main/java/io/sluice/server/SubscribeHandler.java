package io.sluice.server;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.sluice.delivery.Command;
import io.sluice.delivery.Delivery;
import io.sluice.delivery.End;
import io.sluice.delivery.SubscriptionHandle;
import io.sluice.delivery.SubscriptionSpec;
import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.server.security.Access;
import io.sluice.store.GroupConfig;
import io.sluice.store.StartPosition;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The inbound side of one Subscribe call, and the one place its upstream messages are parsed. The
 * first message must be {@code init}: it opens the subscription (writing through a {@link
 * SubscribeStream}), whose own thread then does all the writing. Later messages are handed to it
 * as {@link Command}s as they arrive; they only update its state and wake it. A client half-close keeps the stream open
 * (deliveries continue on the credit already granted) until the client cancels.
 *
 * <p>gRPC calls this on the connection's transport thread. Opening reads the store and an ack may
 * wait for room in the writer's queue, so every message is handled in order on a worker thread
 * ({@link PacedInbound}, which also bounds what is queued for it); the half-close and the
 * cancellation are queued behind the messages that came before them, so an ack sent before a
 * cancellation is still applied.
 */
final class SubscribeHandler implements StreamObserver<SubscribeUpstream> {
    /** Longest consumer id accepted in init. */
    static final int MAX_CONSUMER_ID = 255;
    /** Longest Term reason accepted (kept as the dead letter's {@code sluice.dlq.detail}). */
    static final int MAX_TERM_REASON = 4096;

    private static final Logger LOG = Logger.getLogger(SubscribeHandler.class.getName());

    private final Delivery delivery;
    private final ServerCallStreamObserver<SubscribeDownstream> out;
    private final PacedInbound inbound;
    private volatile SubscriptionHandle subscription;
    private volatile boolean failed;
    private volatile boolean closed;      // the call is over in the transport (closed or cancelled)
    /** Resets the call's stream unless it closes meanwhile: for an end its client does not read. */
    private final Runnable resetIfStuck;

    /**
     * {@code transport}: the call's transport thread (null when unknown); {@code workers} runs the
     * inbound worker (virtual threads). Called on the transport thread.
     */
    SubscribeHandler(Delivery delivery, StreamObserver<SubscribeDownstream> responses, Executor transport,
                     Executor workers) {
        this.delivery = delivery;
        this.out = (ServerCallStreamObserver<SubscribeDownstream>) responses;
        Context context = Context.current();   // the caller's grants, read when init names a dead-letter topic
        this.inbound = new PacedInbound(out, transport, task -> workers.execute(context.wrap(task)),
                this::workerFailed);
        // Both handlers must be set before the service method returns.
        out.setOnReadyHandler(() -> {
            SubscriptionHandle s = subscription;
            if (s != null) {
                s.wake();
            }
        });
        this.resetIfStuck = CallResets.resetLater(() -> closed);
        out.setOnCancelHandler(() -> {
            closed = true;
            SubscriptionHandle held = subscription;
            if (held != null) {
                held.transportClosed();
            }
            inbound.then(() -> {
                SubscriptionHandle s = subscription;
                if (s != null) {
                    s.end(End.CANCELLED);
                }
            });
        });
        out.setOnCloseHandler(() -> {
            closed = true;
            SubscriptionHandle s = subscription;
            if (s != null) {
                s.transportClosed();
            }
        });
        out.disableAutoRequest();
        inbound.start();
    }

    @Override
    public void onNext(SubscribeUpstream message) {
        if (failed) {
            return;
        }
        if (message == null) {   // a message that did not parse: its status is only in this thread's context
            Status malformed = RequestParsing.malformed();
            inbound.message(() -> handleMalformed(malformed), 0);
            return;
        }
        inbound.message(() -> handle(message), message.getSerializedSize());
    }

    /** A message that did not parse (RequestParsing): the stream ends with its status. */
    private void handleMalformed(Status malformed) {
        if (failed) {
            return;
        }
        SubscriptionHandle s = subscription;
        if (s == null) {
            fail(malformed);
        } else {
            s.end(End.failed(malformed.getCode() == Status.Code.RESOURCE_EXHAUSTED
                    ? new SluiceException.TooLarge(malformed.getDescription())
                    : new SluiceException.InvalidArgument(malformed.getDescription())));
        }
    }

    /** A task of the inbound worker failed unexpectedly, or the broker is stopping and runs no more. */
    private void workerFailed(RuntimeException e) {
        SubscriptionHandle s = subscription;
        if (e instanceof RejectedExecutionException) {
            if (s != null) {
                s.end(End.SHUTTING_DOWN);
            } else {
                fail(Status.UNAVAILABLE.withDescription("the broker is shutting down"));
            }
            return;
        }
        LOG.log(Level.WARNING,
                "a Subscribe stream's upstream message failed unexpectedly; the stream ends", e);
        if (s != null) {
            s.end(End.internal(String.valueOf(e)));
        } else {
            fail(Status.INTERNAL.withDescription("the stream could not be opened: " + e));
        }
    }

    /** One well-formed upstream message, on the inbound worker. */
    private void handle(SubscribeUpstream message) {
        if (failed) {
            return;
        }
        SubscriptionHandle s = subscription;
        if (s == null) {
            open(message);
            return;
        }
        try {
            switch (message.getRequestCase()) {
                case CREDIT -> s.receive(new Command.Grant(message.getCredit().getCredits()));
                case ACK -> s.receive(new Command.Ack(List.of(message.getAck().getMessageId())));
                case BATCH_ACK -> s.receive(new Command.Ack(message.getBatchAck().getMessageIdsList()));
                case NACK -> s.receive(new Command.Nack(message.getNack().getMessageId(),
                        message.getNack().getRedeliveryDelayMs()));
                case IN_PROGRESS -> s.receive(new Command.InProgress(message.getInProgress().getMessageId()));
                case TERM -> {
                    String reason = message.getTerm().getReason();
                    if (characters(reason) > MAX_TERM_REASON) {
                        s.end(End.invalid("term reason is " + characters(reason) + " characters long; the limit is "
                                + MAX_TERM_REASON + " (it is kept as the dead letter's sluice.dlq.detail)"));
                    } else {
                        s.receive(new Command.Term(message.getTerm().getMessageId(), reason));
                    }
                }
                case SYNC -> s.receive(new Command.Sync(message.getSync().getId()));
                case INIT -> s.end(End.invalid(
                        "init was already sent on this stream; open a new stream to subscribe again"));
                case REQUEST_NOT_SET -> s.end(End.invalid("an upstream message must carry init, credit, ack, nack, "
                        + "batch_ack, in_progress, term or sync"));
            }
        } catch (InterruptedException e) {
            s.end(End.SHUTTING_DOWN);
        }
    }

    private void open(SubscribeUpstream message) {
        if (!message.hasInit()) {
            fail(Status.INVALID_ARGUMENT.withDescription("the first message of a Subscribe stream must be init, not "
                    + describe(message)));
            return;
        }
        try {
            SubscriptionSpec spec = spec(message.getInit());
            int maxBatch = message.getInit().getMaxBatch();
            if (maxBatch < 0 || maxBatch > SubscribeStream.MAX_BATCH) {   // unsigned: past 2^31 it reads negative
                throw new SluiceException.InvalidArgument("max_batch " + Integer.toUnsignedString(maxBatch)
                        + " is over the limit of " + SubscribeStream.MAX_BATCH + " deliveries per batch");
            }
            SubscriptionHandle opened = delivery.open(spec, new SubscribeStream(out, inbound, maxBatch, resetIfStuck));
            subscription = opened;
            if (out.isCancelled()) {
                opened.end(End.CANCELLED);
            }
            Access.onRevoked(why -> opened.end(End.failed(why)));   // its grant withdrawn, or its token gone
        } catch (SluiceException e) {
            fail(Status.fromCode(Statuses.codeOf(e)).withDescription(e.getMessage()));
        }
    }

    /** Characters (code points, as a limit in characters counts them), not UTF-16 units. */
    private static int characters(String s) {
        return s.codePointCount(0, s.length());
    }

    private SubscriptionSpec spec(SubscriptionInit init) {
        String topic = Names.topic(init.getTopic());
        if (characters(init.getConsumerId()) > MAX_CONSUMER_ID) {
            throw new SluiceException.InvalidArgument("consumer_id is " + characters(init.getConsumerId())
                    + " characters long; the limit is " + MAX_CONSUMER_ID);
        }
        StartPosition start = StartPositions.fromWire(init.getInitialPosition(), init.getInitialPositionValue(),
                init.getOffset(), init.getStartTimestampMs(), topic, delivery::lastSequence);
        String group = switch (init.getMode()) {
            case CONSUMER_GROUP, SHARED -> Names.group(init.getConsumerGroup());
            case BROWSE -> null;
            case UNRECOGNIZED -> throw new SluiceException.InvalidArgument("mode " + init.getModeValue()
                    + " is not CONSUMER_GROUP (0), BROWSE (1) or SHARED (20)");
        };
        GroupConfig config = group == null || !init.hasGroupConfig() ? GroupConfig.DEFAULTS
                : GroupConfigs.fromWire(topic, group, init.getGroupConfig());
        return new SubscriptionSpec(topic, group, start, init.getConsumerId(),
                init.getMode() == io.sluice.proto.SubscriptionMode.SHARED, config);
    }

    private static String describe(SubscribeUpstream message) {
        return message.getRequestCase() == SubscribeUpstream.RequestCase.REQUEST_NOT_SET
                ? "an empty message" : message.getRequestCase().name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Ends the stream with {@code status}; a denial (a dead-letter topic not granted) sends a StreamError first. */
    private void fail(Status status) {
        failed = true;
        try {
            if (status.getCode() == Status.Code.PERMISSION_DENIED) {
                out.onNext(SubscribeDownstream.newBuilder().setError(io.sluice.proto.StreamError.newBuilder()
                        .setCode("PERMISSION_DENIED").setMessage(status.getDescription())).build());
            }
            out.onError(status.asRuntimeException());
        } catch (RuntimeException ignored) {
            // the call was cancelled meanwhile
        }
    }

    @Override
    public void onError(Throwable t) {
        inbound.then(() -> {
            SubscriptionHandle s = subscription;
            if (s != null) {
                s.end(End.CANCELLED);
            }
        });
    }

    @Override
    public void onCompleted() {
        // Half-close: the client sends nothing more but may still read what its credit allows. Before
        // init it never can: the stream would stay open with nothing to do.
        inbound.then(() -> {
            if (subscription == null && !failed) {
                fail(Status.INVALID_ARGUMENT.withDescription("the Subscribe stream was half-closed before its "
                        + "init message; send init first"));
            }
        });
    }
}
