package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.Ack;
import io.sluice.proto.BatchAck;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.Nack;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A test-side Subscribe stream over a real gRPC stub: sends init, credit, acks and nacks, and
 * hands each downstream message over in order. Waits have deadlines; nothing sleeps.
 */
public final class StreamClient implements AutoCloseable {
    public static final Duration WAIT = Duration.ofSeconds(20);

    private final BlockingQueue<SubscribeDownstream> received = new LinkedBlockingQueue<>();
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile Status status;
    private final ClientCallStreamObserver<SubscribeUpstream> upstream;
    private final Object readiness = new Object();   // notified when the transport can take more

    private StreamClient(SluiceGrpc.SluiceStub stub) {
        @SuppressWarnings("rawtypes")   // an array of a generic type can only be raw
        var holder = new ClientCallStreamObserver[1];
        stub.subscribe(new ClientResponseObserver<SubscribeUpstream, SubscribeDownstream>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<SubscribeUpstream> requests) {
                holder[0] = requests;
                requests.setOnReadyHandler(StreamClient.this::wakeSenders);
            }

            @Override
            public void onNext(SubscribeDownstream value) {
                received.add(value);
            }

            @Override
            public void onError(Throwable t) {
                status = Status.fromThrowable(t);
                closed.countDown();
                wakeSenders();
            }

            @Override
            public void onCompleted() {
                status = Status.OK;
                closed.countDown();
                wakeSenders();
            }
        });
        @SuppressWarnings("unchecked")
        ClientCallStreamObserver<SubscribeUpstream> up = holder[0];
        this.upstream = up;
    }

    private void wakeSenders() {
        synchronized (readiness) {
            readiness.notifyAll();
        }
    }

    /** Opens a stream without sending anything. */
    public static StreamClient open(SluiceGrpc.SluiceStub stub) {
        return new StreamClient(stub);
    }

    /** Opens a CONSUMER_GROUP stream. */
    public static StreamClient group(SluiceGrpc.SluiceStub stub, String topic, String group, InitialPosition start) {
        var c = new StreamClient(stub);
        c.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder()
                .setTopic(topic).setConsumerGroup(group).setInitialPosition(start)).build());
        return c;
    }

    /** Opens a CONSUMER_GROUP stream starting at {@code offset} for a new group. */
    public static StreamClient groupAt(SluiceGrpc.SluiceStub stub, String topic, String group, long offset) {
        var c = new StreamClient(stub);
        c.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder()
                .setTopic(topic).setConsumerGroup(group).setInitialPosition(InitialPosition.OFFSET)
                .setOffset(offset)).build());
        return c;
    }

    /** Opens a SHARED stream on a group starting at the earliest message, created with {@code config} when new. */
    public static StreamClient shared(SluiceGrpc.SluiceStub stub, String topic, String group,
                                      io.sluice.proto.ConsumerGroupConfig config) {
        var c = new StreamClient(stub);
        c.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder()
                .setTopic(topic).setConsumerGroup(group).setMode(SubscriptionMode.SHARED)
                .setInitialPosition(InitialPosition.EARLIEST).setGroupConfig(config)).build());
        return c;
    }

    /** Opens a BROWSE stream. */
    public static StreamClient browse(SluiceGrpc.SluiceStub stub, String topic, InitialPosition start, long offset) {
        var c = new StreamClient(stub);
        c.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder()
                .setTopic(topic).setMode(SubscriptionMode.BROWSE).setInitialPosition(start).setOffset(offset))
                .build());
        return c;
    }

    public synchronized void send(SubscribeUpstream message) {
        upstream.onNext(message);
    }

    /**
     * Waits until the transport takes more without buffering in this process (gRPC's isReady), or
     * the stream has closed; false when neither happened within {@code timeout}.
     */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (readiness) {
            while (!upstream.isReady() && closed.getCount() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(readiness, left);
            }
        }
        return true;
    }

    /** The status the stream closed with, or null while it is open. */
    public Status closedStatus() {
        return closed.getCount() == 0 ? status : null;
    }

    public void credit(int n) {
        send(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(n)).build());
    }

    public void ack(String id) {
        send(SubscribeUpstream.newBuilder().setAck(Ack.newBuilder().setMessageId(id)).build());
    }

    public void batchAck(List<String> ids) {
        send(SubscribeUpstream.newBuilder().setBatchAck(BatchAck.newBuilder().addAllMessageIds(ids)).build());
    }

    public void nack(String id, int delayMs) {
        send(SubscribeUpstream.newBuilder().setNack(Nack.newBuilder().setMessageId(id)
                .setRedeliveryDelayMs(delayMs)).build());
    }

    public void inProgress(String id) {
        send(SubscribeUpstream.newBuilder().setInProgress(io.sluice.proto.InProgress.newBuilder().setMessageId(id))
                .build());
    }

    public void term(String id, String reason) {
        send(SubscribeUpstream.newBuilder().setTerm(io.sluice.proto.Term.newBuilder().setMessageId(id)
                .setReason(reason)).build());
    }

    public void sync(long id) {
        send(SubscribeUpstream.newBuilder().setSync(io.sluice.proto.AckSync.newBuilder().setId(id)).build());
    }

    /** The id of the next AckSynced, skipping heartbeats; fails when anything else comes first, or none in time. */
    public long synced() throws InterruptedException {
        SubscribeDownstream m = nextSkippingHeartbeats();
        assertTrue(m.hasSynced(), "expected synced, got " + m);
        return m.getSynced().getId();
    }

    /** The next downstream message if one arrives within {@code timeout}, else null. */
    public SubscribeDownstream poll(Duration timeout) throws InterruptedException {
        return received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The next downstream message of any kind; fails the test when none comes in time. */
    public SubscribeDownstream next() throws InterruptedException {
        SubscribeDownstream m = received.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        if (m == null) {
            fail("no downstream message within " + WAIT + (status != null ? "; stream closed with " + status : ""));
        }
        return m;
    }

    /** The next delivery or StreamError, skipping heartbeats (an idle stream's, legitimately); fails on timeout. */
    public SubscribeDownstream nextSkippingHeartbeats() throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            assertTrue(System.nanoTime() < deadline, "no delivery or stream error within " + WAIT);
            SubscribeDownstream m = next();
            if (!m.hasHeartbeat()) {
                return m;
            }
        }
    }

    /** The next delivery, skipping heartbeats; fails on a StreamError or timeout. */
    public MessageDelivery delivery() throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            assertTrue(System.nanoTime() < deadline, "no delivery within " + WAIT);
            SubscribeDownstream m = next();
            if (m.hasDelivery()) {
                return m.getDelivery();
            }
            if (m.hasError()) {
                fail("expected a delivery, got stream error " + m.getError());
            }
        }
    }

    /**
     * Asserts that nothing is delivered until the next heartbeat reports {@code latestAtLeast}:
     * the server has seen those messages and chose not to deliver them.
     */
    public void expectHeartbeatWithoutDelivery(long latestAtLeast) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            assertTrue(System.nanoTime() < deadline, "no heartbeat reporting " + latestAtLeast + " within " + WAIT);
            SubscribeDownstream m = next();
            if (m.hasDelivery()) {
                fail("unexpected delivery of sequence " + m.getDelivery().getSequence());
            }
            if (m.hasDeliveries()) {
                fail("unexpected batch of " + m.getDeliveries().getDeliveriesCount() + " deliveries");
            }
            if (m.hasError()) {
                fail("unexpected stream error " + m.getError());
            }
            if (m.hasHeartbeat() && m.getHeartbeat().getLatestSeq() >= latestAtLeast) {
                return;
            }
        }
    }

    /** The next StreamError, skipping heartbeats; fails on a delivery. */
    public String streamError() throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            assertTrue(System.nanoTime() < deadline, "no stream error within " + WAIT);
            SubscribeDownstream m = next();
            if (m.hasError()) {
                return m.getError().getCode();
            }
            assertTrue(m.hasHeartbeat(), "expected a stream error, got " + m);
        }
    }

    /**
     * Everything delivered before the stream's StreamError, skipping heartbeats; the error comes
     * last. Fails when no StreamError comes in time.
     */
    public Ended untilStreamError() throws InterruptedException {
        var deliveries = new java.util.ArrayList<MessageDelivery>();
        while (true) {
            SubscribeDownstream m = next();
            if (m.hasDelivery()) {
                deliveries.add(m.getDelivery());
            } else if (m.hasError()) {
                return new Ended(deliveries, m.getError());
            }
        }
    }

    /** The deliveries of a stream and the StreamError that ended it. */
    public record Ended(List<MessageDelivery> deliveries, io.sluice.proto.StreamError error) {
    }

    /** Waits for the stream to close; answers what it received and did not hand over yet (deliveries, heartbeats). */
    public List<SubscribeDownstream> awaitCloseCollecting() throws InterruptedException {
        awaitClose();
        var rest = new java.util.ArrayList<SubscribeDownstream>();
        received.drainTo(rest);
        return rest;
    }

    /** Waits for the stream to close and returns its status. */
    public Status awaitClose() throws InterruptedException {
        assertTrue(closed.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "stream did not close within " + WAIT);
        assertNotNull(status);
        return status;
    }

    public void expectClosedWith(Status.Code code) throws InterruptedException {
        assertEquals(code, awaitClose().getCode(), () -> "closed with " + status);
    }

    /** Ends the client's side of the stream. */
    public void halfClose() {
        upstream.onCompleted();
    }

    /** Cancels the stream abruptly. */
    public void cancel() {
        upstream.cancel("test cancels", null);
    }

    @Override
    public void close() {
        if (closed.getCount() > 0) {
            cancel();
        }
    }
}
