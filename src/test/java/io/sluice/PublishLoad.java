package io.sluice;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Publisher threads sending unique payloads to a few topics over one channel until their first
 * failure (a kill, a shutdown) or until stopped; each acknowledged publish goes into the ledger.
 * Failures with a code outside {@code expectedFailures} are collected as unexpected.
 */
public final class PublishLoad implements AutoCloseable {
    public static final List<String> TOPICS = List.of("orders", "events", "audit");
    /** How a publish may fail when the broker is stopped gracefully: SPEC 3, "while shutting down: UNAVAILABLE". */
    public static final Set<Status.Code> STOPPED = Set.of(Status.Code.UNAVAILABLE);
    /** How a publish may fail when the broker is killed: the client's transport reports a closed connection. */
    public static final Set<Status.Code> KILLED = Set.of(Status.Code.UNAVAILABLE, Status.Code.UNKNOWN);

    /** What one incarnation's load did. */
    public record Outcome(int acked, int failed, List<String> unexpected) {
    }

    private final ManagedChannel channel;
    private final Semaphore acks = new Semaphore(0);
    private final AtomicInteger ackCount = new AtomicInteger();
    private final AtomicInteger failedCount = new AtomicInteger();
    private final ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();
    private final Set<Status.Code> expectedFailures;
    private volatile boolean stop;

    /**
     * {@code publishers} threads sending single publishes and {@code batchPublishers} threads sending
     * BatchPublish requests of {@value #BATCH} messages, on a new channel to 127.0.0.1:{@code port};
     * keys name the {@code cycle}.
     */
    public PublishLoad(int port, int cycle, int publishers, int batchPublishers, Ledger ledger,
                       Set<Status.Code> expectedFailures) {
        this.channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        this.expectedFailures = expectedFailures;
        for (int t = 0; t < publishers; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().daemon().name("publisher-" + t).start(
                    () -> publishUntilFailure(cycle, id, ledger)));
        }
        for (int t = 0; t < batchPublishers; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().daemon().name("batch-publisher-" + t).start(
                    () -> publishBatchesUntilFailure(cycle, id, ledger)));
        }
    }

    /** Messages per BatchPublish request. */
    public static final int BATCH = 10;

    private void publishUntilFailure(int cycle, int thread, Ledger ledger) {
        var stub = SluiceGrpc.newBlockingStub(channel);
        for (int n = 0; !stop; n++) {
            String key = "p" + thread + "-c" + cycle + "-" + n;
            ByteString payload = ledger.attempt(key);
            String topic = TOPICS.get((thread + n) % TOPICS.size());
            PublishResponse r;
            try {
                r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
                        .setTopic(topic).setPayload(payload).putAttributes("writer", key).build());
            } catch (StatusRuntimeException e) {
                failedCount.incrementAndGet();
                if (!expectedFailures.contains(e.getStatus().getCode())) {
                    unexpected.add(key + ": " + e.getStatus());
                }
                return;   // the broker is gone: this incarnation's load ends here
            }
            ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
            ackCount.incrementAndGet();
            acks.release();
        }
    }

    private void publishBatchesUntilFailure(int cycle, int thread, Ledger ledger) {
        var stub = SluiceGrpc.newBlockingStub(channel);
        for (int n = 0; !stop; n++) {
            String topic = TOPICS.get((thread + n) % TOPICS.size());
            var keys = new ArrayList<String>(BATCH);
            var payloads = new ArrayList<ByteString>(BATCH);
            var request = BatchPublishRequest.newBuilder().setTopic(topic);
            for (int i = 0; i < BATCH; i++) {
                String key = "b" + thread + "-c" + cycle + "-" + n + "-" + i;
                ByteString payload = ledger.attempt(key);
                keys.add(key);
                payloads.add(payload);
                request.addMessages(BatchMessage.newBuilder().setPayload(payload).putAttributes("writer", key));
            }
            ledger.attemptBatch(keys);
            BatchPublishResponse r;
            try {
                r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).batchPublish(request.build());
            } catch (StatusRuntimeException e) {
                failedCount.incrementAndGet();
                if (!expectedFailures.contains(e.getStatus().getCode())) {
                    unexpected.add(keys.getFirst() + "..: " + e.getStatus());
                }
                return;
            }
            for (int i = 0; i < BATCH; i++) {
                var result = r.getResults(i);
                ledger.ack(new Ledger.Acked(keys.get(i), topic, result.getMessageId(), result.getSequence(),
                        payloads.get(i)));
            }
            ackCount.addAndGet(BATCH);
            acks.release(BATCH);
        }
    }

    /** Waits until the load has had {@code n} acknowledgements in this incarnation. */
    public void awaitAcks(int n) throws InterruptedException {
        assertTrue(acks.tryAcquire(n, 60, TimeUnit.SECONDS), "the load reached " + n + " acknowledgements ("
                + ackCount.get() + " so far; unexpected failures: " + unexpected + ")");
        acks.release(n);   // awaitAcks counts from the start, not from the last call
    }

    /** Asks the publishers to stop after their current publish, and waits for them. */
    public void stopAndAwait() throws InterruptedException {
        stop = true;
        awaitStopped();
    }

    /** Waits for every publisher to end (after its first failure, or when stopped). */
    public void awaitStopped() throws InterruptedException {
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            if (t.isAlive()) {
                fail(t.getName() + " did not end within 30 s");
            }
        }
    }

    public int acked() {
        return ackCount.get();
    }

    public int failed() {
        return failedCount.get();
    }

    public List<String> unexpected() {
        return List.copyOf(unexpected);
    }

    public Outcome outcome() {
        return new Outcome(acked(), failed(), unexpected());
    }

    @Override
    public void close() {
        stop = true;
        channel.shutdownNow();
        try {
            awaitStopped();
            channel.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
