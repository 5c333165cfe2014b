package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.sluice.Figures;
import io.sluice.Ledger;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.SluiceGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Case 3, one memory budget: 16 concurrent unary publishers of 4 MiB payloads, each on its own
 * connection, 32 more sharing one connection, one PublishStream of 4 MiB messages and four of 1 MiB
 * messages, all at once, against -Xmx128m. Every publish is
 * answered: OK, or UNAVAILABLE / RESOURCE_EXHAUSTED with a message, never a dropped connection;
 * small publishes keep being answered meanwhile; RSS stays bounded; no OutOfMemoryError.
 */
class MemoryBudgetIT extends HostileCase {
    static final int MIB = 1 << 20;
    static final int UNARY_PUBLISHERS = 16;
    static final int SMALL_STREAMS = 4;
    /**
     * Publishers of one 4 MiB payload each, on one connection: the calls waiting for the budget hold
     * their streams' unread bytes in direct memory (with gRPC's window tuning, whole messages: 30 of
     * them ran out of it and lost the connection).
     */
    static final int ONE_CONNECTION_PUBLISHERS = 32;
    /** How long one big publish may take to be answered: the broker may make it wait its turn. */
    static final long BIG_DEADLINE_S = 60;

    private final AtomicInteger ok = new AtomicInteger();
    private final AtomicInteger refused = new AtomicInteger();

    @Test
    void bigPublishesFromManyClientsAtOnceAreAllAnsweredWithinOneMemoryBudget() throws Exception {
        HostileBroker b = start();
        b.bigLedgerTopic("hostile.big");
        b.bigLedgerTopic("hostile.stream");
        b.startBackground();
        int unaryEach = Figures.scaled(2, 5);
        int bigStream = Figures.scaled(3, 10);
        int smallStreamEach = Figures.scaled(4, 20);

        // Every client is connected and has its first payload built before any sends: they all start at once.
        var go = new CountDownLatch(1);
        var threads = new ArrayList<Thread>();
        for (int p = 0; p < UNARY_PUBLISHERS; p++) {
            ManagedChannel client = b.defaultChannel();
            client.getState(true);   // connect now
            int publisher = p;
            threads.add(Thread.ofPlatform().name("big-unary-" + p).start(() -> {
                for (int n = 0; n < unaryEach; n++) {
                    String key = "u" + publisher + "-" + n;
                    ByteString payload = b.ledger.attempt(key, 4 * MIB);   // exactly the default limit: accepted
                    if (n == 0 && !awaitStart(go)) {
                        return;
                    }
                    unary(b, client, key, payload);
                }
            }));
        }
        ManagedChannel shared = b.defaultChannel();
        shared.getState(true);
        for (int p = 0; p < ONE_CONNECTION_PUBLISHERS; p++) {
            String key = "c" + p;
            threads.add(Thread.ofPlatform().name("one-connection-" + p).start(() -> {
                ByteString payload = b.ledger.attempt(key, 4 * MIB);
                if (awaitStart(go)) {
                    unary(b, shared, key, payload);
                }
            }));
        }
        threads.add(Thread.ofPlatform().name("big-stream").start(() -> stream(b, go, "s4-", bigStream, 4 * MIB)));
        for (int s = 0; s < SMALL_STREAMS; s++) {
            String prefix = "s1-" + s + "-";
            threads.add(Thread.ofPlatform().name("mib-stream-" + s).start(
                    () -> stream(b, go, prefix, smallStreamEach, MIB)));
        }
        go.countDown();
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(BIG_DEADLINE_S * 2 + 30));
            if (t.isAlive()) {
                b.failure(t.getName() + " still waiting for answers");
            }
        }
        long tried = (long) UNARY_PUBLISHERS * unaryEach + ONE_CONNECTION_PUBLISHERS + bigStream
                + (long) SMALL_STREAMS * smallStreamEach;
        b.finish("3 memory budget (4 MiB x 48 + streams)", tried, "big OK " + ok + ", refused " + refused
                + "; peak RSS " + b.peakRssMb() + " MiB");
    }

    private static boolean awaitStart(CountDownLatch go) {
        try {
            return go.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void unary(HostileBroker b, ManagedChannel client, String key, ByteString payload) {
        try {
            b.publish(client, "hostile.big", key, payload, Duration.ofSeconds(BIG_DEADLINE_S));   // exactly the default limit: accepted
            ok.incrementAndGet();
        } catch (StatusRuntimeException e) {
            answered(b, key, e.getStatus().getCode().value(), e.getStatus().getDescription(), e.getStatus());
        }
    }

    /** A refusal must come from the broker, with a message: never a dropped connection. */
    private void answered(HostileBroker b, String key, int code, String message, Status status) {
        boolean fromBroker = (code == Status.Code.UNAVAILABLE.value() || code == Status.Code.RESOURCE_EXHAUSTED.value())
                && message != null && !message.isBlank() && (status == null || status.getCause() == null)
                && !message.matches("(?is).*(io exception|network closed|connection closed|goaway|rst_stream"
                        + "|channel shutdown|keepalive|exceeds maximum).*");
        if (fromBroker) {
            refused.incrementAndGet();
        } else {
            b.failure(key + " was not answered by the broker: code " + Status.fromCodeValue(code).getCode() + ", "
                    + (status != null ? status : message));
        }
    }

    /** One PublishStream of {@code count} messages of {@code size} bytes, sent at once, then half-closed. */
    private void stream(HostileBroker b, CountDownLatch go, String prefix, int count, int size) {
        String topic = "hostile.stream";
        var payloads = new ConcurrentHashMap<Long, ByteString>();
        var answers = new ConcurrentHashMap<Long, PublishStreamResponse>();
        var done = new CountDownLatch(1);
        var end = new Status[1];
        var requests = new ArrayList<PublishStreamRequest>();
        for (long id = 0; id < count; id++) {
            String key = prefix + id;
            ByteString payload = b.ledger.attempt(key, size);
            payloads.put(id, payload);
            requests.add(PublishStreamRequest.newBuilder().setRequestId(id).setTopic(topic).setPayload(payload)
                    .putAttributes("writer", key).build());
        }
        ManagedChannel client = b.defaultChannel();
        client.getState(true);
        if (!awaitStart(go)) {
            return;
        }
        StreamObserver<PublishStreamRequest> up = SluiceGrpc.newStub(client)
                .withDeadlineAfter(BIG_DEADLINE_S, TimeUnit.SECONDS)
                .publishStream(new StreamObserver<>() {
                    @Override
                    public void onNext(PublishStreamResponse r) {
                        if (answers.putIfAbsent(r.getRequestId(), r) != null) {
                            b.failure(prefix + r.getRequestId() + " answered twice");
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        end[0] = Status.fromThrowable(t);
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        end[0] = Status.OK;
                        done.countDown();
                    }
                });
        requests.forEach(up::onNext);
        up.onCompleted();
        try {
            if (!done.await(BIG_DEADLINE_S + 10, TimeUnit.SECONDS)) {
                b.failure("PublishStream " + prefix + " did not end");
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        b.expect("PublishStream " + prefix + " ends OK after its half-close",
                () -> assertEquals(Status.Code.OK, end[0].getCode(), end[0].toString()));
        for (long id = 0; id < count; id++) {
            PublishStreamResponse r = answers.get(id);
            String key = prefix + id;
            if (r == null) {
                b.failure(key + " got no answer on its PublishStream (" + end[0] + ")");
            } else if (r.getErrorCode() == 0) {
                b.ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payloads.get(id)));
                ok.incrementAndGet();
            } else {
                answered(b, key, r.getErrorCode(), r.getErrorMessage(), null);
            }
        }
    }
}
