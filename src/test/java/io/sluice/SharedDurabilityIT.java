package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.server.StreamClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shared groups and delivery counts against the built jar, SIGKILLed mid-run several times: no
 * message lost, no delivery count going backwards or repeating, every poison message dead-lettered
 * exactly once.
 */
class SharedDurabilityIT {
    private static final int TOTAL = 3_000;
    private static final int POISON_EVERY = 300;

    @TempDir
    Path dir;

    @RegisterExtension
    final Children children = new Children(() -> dir);


    /** Every delivery seen, by sequence: the counts in the order they arrived. */
    private final Map<Long, List<Integer>> counts = new ConcurrentHashMap<>();
    private final Set<Long> acked = ConcurrentHashMap.newKeySet();

    /** Consumers that ack everything but poison, which they nack until it is dead-lettered. */
    private List<Thread> consume(ManagedChannel ch, int streams, ConsumerGroupConfig config, AtomicBoolean stop) {
        var threads = new ArrayList<Thread>();
        for (int s = 0; s < streams; s++) {
            StreamClient c = StreamClient.shared(SluiceGrpc.newStub(ch), "q", "workers", config);
            c.credit(32);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    while (!stop.get() && c.closedStatus() == null) {
                        SubscribeDownstream m = c.poll(Duration.ofMillis(100));
                        if (m == null || !m.hasDelivery()) {
                            continue;
                        }
                        MessageDelivery d = m.getDelivery();
                        counts.computeIfAbsent(d.getSequence(), k -> java.util.Collections.synchronizedList(
                                new ArrayList<>())).add(d.getDeliveryCount());
                        if (d.getPayload().toStringUtf8().startsWith("poison")) {
                            c.nack(d.getMessageId(), 0);
                        } else {
                            c.ack(d.getMessageId());
                            acked.add(d.getSequence());
                        }
                        c.credit(1);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        return threads;
    }

    @Test
    void sharedGroupsSurviveRepeatedKillsWithExactCountsAndDeadLettersMovedOnce() throws Exception {
        Path data = dir.resolve("data");
        var child = children.serve(data);
        var stub = SluiceGrpc.newBlockingStub(children.channel(child));
        for (int from = 0; from < TOTAL; from += 500) {
            var batch = BatchPublishRequest.newBuilder().setTopic("q");
            for (int i = from; i < from + 500; i++) {
                String payload = (i % POISON_EVERY == 7 ? "poison-" : "job-") + i;
                batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8(payload)));
            }
            stub.withDeadlineAfter(60, TimeUnit.SECONDS).batchPublish(batch.build());
        }
        int poisons = TOTAL / POISON_EVERY;
        var config = ConsumerGroupConfig.newBuilder().setAckWaitMs(2_000).setMaxDeliveries(4)
                .setDeadLetterTopic("q.dlq").addBackoffMs(1).build();

        for (int cycle = 1; cycle <= 3; cycle++) {
            var stop = new AtomicBoolean();
            int before = acked.size();
            List<Thread> threads = consume(children.channel(child), 4, config, stop);
            Await.until("cycle " + cycle + " acknowledges some messages", () -> acked.size() >= before + 500);
            child.kill();   // SIGKILL with deliveries, acks and leases in flight
            stop.set(true);
            for (Thread t : threads) {
                t.join(Duration.ofSeconds(10));
            }
            System.out.printf("cycle %d: %d messages acknowledged so far, then SIGKILL%n", cycle, acked.size());
            child = children.serve(data);
        }
        var stop = new AtomicBoolean();
        var ch = children.channel(child);
        List<Thread> threads = consume(ch, 4, config, stop);
        var admin = SluiceGrpc.newBlockingStub(ch);
        Await.until("every job acknowledged", () -> acked.size() == TOTAL - poisons, acked::size);
        Await.until("every poison dead-lettered", () -> dlqSize(admin) >= poisons, () -> dlqSize(admin));
        Await.until("nothing left in flight", () -> group(admin).getInFlight() == 0, () -> group(admin));
        stop.set(true);
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(10));
        }

        assertEquals(poisons, dlqSize(admin), "each poison message moved exactly once");
        assertEquals(poisons, group(admin).getDeadLettered());
        for (var e : counts.entrySet()) {
            List<Integer> seen = List.copyOf(e.getValue());
            for (int i = 1; i < seen.size(); i++) {
                assertTrue(seen.get(i) > seen.get(i - 1), "message " + e.getKey() + ": counts never go back "
                        + "or repeat: " + seen);
            }
        }
        Set<String> dlqIds = new HashSet<>();
        var dlq = StreamClient.browse(SluiceGrpc.newStub(ch), "q.dlq", InitialPosition.EARLIEST, 0);
        dlq.credit(poisons);
        for (int i = 0; i < poisons; i++) {
            MessageDelivery d = dlq.delivery();
            assertTrue(d.getPayload().toStringUtf8().startsWith("poison"));
            assertEquals("4", d.getAttributesMap().get("sluice.dlq.delivery_count"));
            assertTrue(dlqIds.add(d.getAttributesMap().get("sluice.dlq.message_id")), "moved once");
        }
        System.out.printf("after 3 kills: %d jobs acknowledged, %d poison messages dead-lettered once each, "
                + "%d redeliveries%n", acked.size(), poisons, group(admin).getRedelivered());
        assertEquals(0, child.terminate(Duration.ofSeconds(30)));
    }

    @Test
    void exclusiveDeliveryCountsAreExactAcrossKill() throws Exception {
        Path data = dir.resolve("data");
        var child = children.serve(data);
        var stub = SluiceGrpc.newBlockingStub(children.channel(child));
        var batch = BatchPublishRequest.newBuilder().setTopic("x");
        for (int i = 0; i < 20; i++) {
            batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("m" + i)));
        }
        stub.batchPublish(batch.build());
        for (int round = 1; round <= 3; round++) {
            var s = StreamClient.group(SluiceGrpc.newStub(children.channel(child)), "x", "g", InitialPosition.EARLIEST);
            s.credit(10);
            for (int i = 0; i < 10; i++) {
                assertEquals(round, s.delivery().getDeliveryCount(), "round " + round + ", message " + i);
            }
            child.kill();
            child = children.serve(data);
        }
        var s = StreamClient.group(SluiceGrpc.newStub(children.channel(child)), "x", "g", InitialPosition.EARLIEST);
        s.credit(11);
        for (int i = 0; i < 10; i++) {
            assertEquals(4, s.delivery().getDeliveryCount());
        }
        assertEquals(1, s.delivery().getDeliveryCount(), "the 11th was never delivered before");
        assertEquals(0, child.terminate(Duration.ofSeconds(30)));
    }

    private static long dlqSize(SluiceGrpc.SluiceBlockingStub admin) {
        var stats = admin.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("q.dlq").build());
        return stats.getStatsCount() == 0 ? 0 : stats.getStats(0).getTotalMessages();
    }

    private static io.sluice.proto.ConsumerGroupStats group(SluiceGrpc.SluiceBlockingStub admin) {
        return admin.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("q").build()).getStats(0)
                .getConsumerGroupsList().stream().filter(g -> g.getGroupName().equals("workers")).findFirst()
                .orElseThrow();
    }
}
