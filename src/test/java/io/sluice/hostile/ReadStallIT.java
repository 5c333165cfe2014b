package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.sluice.Figures;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import java.util.ArrayList;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Case 5, reads cannot stall the broker: thousands of consumer groups on one topic with cursors
 * mid-topic, and two GetTopicStats looping concurrently; meanwhile health checks and a Subscribe
 * keep answering, each within the harness's 10 s deadline (the slowest is the figure; nothing is
 * timed beyond that deadline).
 */
class ReadStallIT extends HostileCase {
    static final String TOPIC = "hostile.wide";
    static final String LIVE = "hostile.live";

    @Test
    void statsOfThousandsOfGroupsLoopingTwiceOverNeverStallHealthOrSubscribe() throws Exception {
        HostileBroker b = start();
        int messages = Figures.scaled(5_000, 100_000);
        int groups = Figures.scaled(300, 5_000);
        long loopMillis = Figures.scaled(3_000, 60_000);

        var blocking = SluiceGrpc.newBlockingStub(b.channel);
        long first = 0;
        for (int sent = 0; sent < messages; sent += 1000) {
            var batch = BatchPublishRequest.newBuilder().setTopic(TOPIC);
            for (int i = 0; i < 1000; i++) {
                batch.addMessages(BatchMessage.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8(
                        "wide-" + (sent + i))));
            }
            BatchPublishResponse r = blocking.withDeadlineAfter(30, TimeUnit.SECONDS).batchPublish(batch.build());
            first = first == 0 ? r.getResults(0).getSequence() : first;
        }
        var futures = SluiceGrpc.newFutureStub(b.channel);
        var inFlight = new ArrayList<ListenableFuture<?>>();
        for (int g = 0; g < groups; g++) {
            long cursor = first + (g * 7919L) % messages;   // spread over the topic
            inFlight.add(futures.withDeadlineAfter(60, TimeUnit.SECONDS).resetCursor(ResetCursorRequest.newBuilder()
                    .setTopic(TOPIC).setConsumerGroup("g" + g).setSequence(cursor).build()));
            if (inFlight.size() == 64) {
                awaitAll(inFlight);
            }
        }
        awaitAll(inFlight);

        b.startBackground();
        var statsCalls = new AtomicLong();
        var statsMax = new AtomicLong();
        var statsFailures = new ConcurrentLinkedQueue<String>();
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(loopMillis);
        var readers = new ArrayList<Thread>();
        for (int t = 0; t < 2; t++) {
            var stub = SluiceGrpc.newBlockingStub(b.defaultChannel());
            readers.add(Thread.ofPlatform().name("stats-" + t).start(() -> {
                while (System.nanoTime() < until) {
                    long start = System.nanoTime();
                    try {
                        stub.withDeadlineAfter(60, TimeUnit.SECONDS).getTopicStats(GetTopicStatsRequest.newBuilder()
                                .addTopics(TOPIC).build());
                        statsMax.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
                    } catch (StatusRuntimeException e) {
                        statsFailures.add(e.getStatus().toString());
                    }
                    statsCalls.incrementAndGet();
                }
            }));
        }

        long healthMax = 0;
        long subscribeMax = 0;
        int rounds = 0;
        boolean subscribing = true;
        b.ledgerTopic(LIVE);
        try (var live = StreamClient.group(SluiceGrpc.newStub(b.channel), LIVE, "live", InitialPosition.EARLIEST)) {
            live.credit(Integer.MAX_VALUE);
            while (readers.stream().anyMatch(Thread::isAlive)) {
                long start = System.nanoTime();
                try {
                    ServingStatus health = b.health("");
                    if (health != ServingStatus.SERVING) {
                        b.failure("health said " + health + " during the reads (round " + rounds + ")");
                    }
                } catch (StatusRuntimeException e) {
                    b.failure("a health check during the reads (round " + rounds + "): " + e.getStatus());
                }
                healthMax = Math.max(healthMax, (System.nanoTime() - start) / 1_000_000);
                if (subscribing) {
                    start = System.nanoTime();
                    try {
                        PublishResponse r = b.publish(b.channel, LIVE, "live-" + rounds, 0);
                        MessageDelivery d = live.delivery();
                        live.ack(d.getMessageId());
                        assertEquals(r.getSequence(), d.getSequence(), "the live subscriber gets each message in turn");
                    } catch (StatusRuntimeException e) {
                        subscribing = false;
                        b.failure("a publish to the live Subscribe during the reads (round " + rounds + "): "
                                + e.getStatus());
                    } catch (AssertionError e) {
                        subscribing = false;
                        b.failure("the live Subscribe during the reads (round " + rounds + "): " + e.getMessage());
                    }
                    subscribeMax = Math.max(subscribeMax, (System.nanoTime() - start) / 1_000_000);
                }
                rounds++;
            }
        }
        for (Thread t : readers) {
            t.join(TimeUnit.SECONDS.toMillis(120));
        }
        if (!statsFailures.isEmpty()) {
            b.failure(statsFailures.size() + " GetTopicStats failed, e.g. " + statsFailures.peek());
        }
        System.out.printf("ReadStallIT: %d groups, %d messages; %d GetTopicStats (slowest %d ms); %d rounds of health "
                        + "(slowest %d ms) and publish-to-delivery (slowest %d ms)%n", groups, messages, statsCalls.get(),
                statsMax.get(), rounds, healthMax, subscribeMax);
        b.finish("5 reads vs " + groups + " groups", statsCalls.get(), "health max " + healthMax + " ms, subscribe max "
                + subscribeMax + " ms, stats max " + statsMax.get() + " ms");
    }

    private static void awaitAll(ArrayList<ListenableFuture<?>> futures) throws InterruptedException {
        for (var f : futures) {
            try {
                f.get(60, TimeUnit.SECONDS);
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                throw new AssertionError("creating a group by ResetCursor failed", e);
            }
        }
        futures.clear();
    }
}
