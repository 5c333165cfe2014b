package io.sluice.hostile;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.sluice.Ledger;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A well-behaved client beside the hostile one: publishes small ledger messages to one topic, the
 * first before the constructor returns, then one at a time with a pause of a few milliseconds
 * between them, each with the harness's deadline, and records every answer. Its publishes must keep being answered OK whatever the attack does.
 * Thread-safe; close it to stop.
 */
final class SmallPublisher implements AutoCloseable {
    private static final long PAUSE_MS = 5;

    private final ManagedChannel channel;
    private final Ledger ledger;
    private final String topic;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("small-publisher")
                    .unstarted(r));
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private final AtomicLong tried = new AtomicLong();
    private final AtomicLong maxMillis = new AtomicLong();

    SmallPublisher(ManagedChannel channel, Ledger ledger, String topic) {
        this.channel = channel;
        this.ledger = ledger;
        this.topic = topic;
        publishOne();   // connects the channel before the attack: no deadline spent on connecting under load
        timer.scheduleWithFixedDelay(this::publishOne, PAUSE_MS, PAUSE_MS, TimeUnit.MILLISECONDS);
    }

    private void publishOne() {
        String key = "small-" + tried.getAndIncrement();
        ByteString payload = ledger.attempt(key);
        long start = System.nanoTime();
        try {
            PublishResponse r = SluiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(HostileBroker.CALL.toMillis(), TimeUnit.MILLISECONDS)
                    .publish(PublishRequest.newBuilder().setTopic(topic).setPayload(payload)
                            .putAttributes("writer", key).build());
            ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
            maxMillis.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
        } catch (StatusRuntimeException e) {
            failures.add(key + ": " + e.getStatus());
        }
    }

    long tried() {
        return tried.get();
    }

    /** The slowest answered publish so far, in ms. */
    long maxMillis() {
        return maxMillis.get();
    }

    List<String> failures() {
        return List.copyOf(failures);
    }

    /** Stops after the publish in progress (which keeps its deadline). Idempotent. */
    @Override
    public void close() throws InterruptedException {
        timer.shutdown();
        timer.awaitTermination(HostileBroker.CALL.toSeconds() + 5, TimeUnit.SECONDS);
    }
}
