package io.sluice.server;

import com.google.protobuf.MessageLite;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.sluice.domain.Attributes;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.SluiceGrpc;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets a unary publish (Publish, BatchPublish) read its message only once the {@link MemoryBudget}
 * has room for the largest message it may carry; once the message is read, what it holds shrinks to
 * its real size, and it is given back when the call ends (answered, failed or cancelled). Under a
 * flood of large publishes the calls beyond the budget wait with their bytes unread in the
 * transport, so the heap holds at most the budget. Other methods pass through; PublishStream charges
 * the budget per request itself.
 */
final class Admission implements ServerInterceptor {
    /** Counted per message on top of its encoded size: the objects that carry it through the broker. */
    static final long OVERHEAD_PER_MESSAGE = 256;

    private final MemoryBudget budget;
    private final Map<String, Long> largest;

    /** {@code largestPublish} and {@code largestBatch}: the most bytes one request of each may bring. */
    Admission(MemoryBudget budget, long largestPublish, long largestBatch) {
        this.budget = budget;
        this.largest = Map.of(
                SluiceGrpc.getPublishMethod().getFullMethodName(), largestPublish + OVERHEAD_PER_MESSAGE,
                SluiceGrpc.getBatchPublishMethod().getFullMethodName(), largestBatch + OVERHEAD_PER_MESSAGE);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        Long room = largest.get(call.getMethodDescriptor().getFullMethodName());
        if (room == null) {
            return next.startCall(call, headers);
        }
        var held = new Held();
        var admitted = new ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
            @Override
            public void request(int messages) {
                if (held.asked) {   // the one message is already asked for (gRPC asks for two, to see the end)
                    super.request(messages);
                    return;
                }
                held.asked = true;
                if (budget.takeOrWait(room, () -> granted(messages))) {
                    held.add(room);
                    super.request(messages);
                }
            }

            /** Room was made by someone else's release: runs on their thread. */
            private void granted(int messages) {
                held.add(room);
                if (isCancelled()) {
                    held.releaseTo(budget);
                    return;
                }
                super.request(messages);
            }

            @Override
            public void close(Status status, Metadata trailers) {
                try {
                    super.close(status, trailers);
                } finally {
                    held.releaseTo(budget);
                }
            }
        };
        ServerCall.Listener<Q> listener = next.startCall(admitted, headers);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onMessage(Q message) {
                if (message instanceof MessageLite m) {
                    held.shrinkTo(heldBytes(m), budget);
                }
                super.onMessage(message);
            }

            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    held.releaseTo(budget);
                }
            }

            @Override
            public void onComplete() {
                try {
                    super.onComplete();
                } finally {
                    held.releaseTo(budget);
                }
            }
        };
    }

    /**
     * What a parsed publish request holds of the budget: its encoded size, {@link #OVERHEAD_PER_MESSAGE}
     * a message, and {@link Attributes#HEAP_PER_ATTRIBUTE} an attribute (many small attributes take
     * far more heap parsed than encoded).
     */
    static long heldBytes(MessageLite m) {
        long attributes = switch (m) {
            case PublishRequest p -> p.getAttributesCount();
            case PublishStreamRequest p -> p.getAttributesCount();
            case BatchPublishRequest b -> b.getMessagesList().stream().mapToLong(BatchMessage::getAttributesCount).sum();
            default -> 0;
        };
        int messages = m instanceof BatchPublishRequest batch ? Math.max(1, batch.getMessagesCount()) : 1;
        return m.getSerializedSize() + OVERHEAD_PER_MESSAGE * messages + Attributes.HEAP_PER_ATTRIBUTE * attributes;
    }

    /** What one call holds of the budget; given back once, whichever end comes first. */
    private static final class Held {
        private final AtomicLong bytes = new AtomicLong();
        volatile boolean asked;

        void add(long n) {
            bytes.addAndGet(n);
        }

        /** The message is read: hold what it really takes (more than the room taken, when it was larger). */
        void shrinkTo(long actual, MemoryBudget budget) {
            long before = bytes.getAndSet(actual);
            if (before > actual) {
                budget.release(before - actual);
            } else {
                budget.force(actual - before);
            }
        }

        void releaseTo(MemoryBudget budget) {
            budget.release(bytes.getAndSet(0));
        }
    }
}
