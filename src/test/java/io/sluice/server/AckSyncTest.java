package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AckSync: a stream learns that the settles it sent are applied. Commits are held back by the store's
 * commit hook, so the test sees that the answer waits for the commit and not only for the broker to
 * read the settles.
 */
class AckSyncTest {
    private static final Duration QUIET = Duration.ofMillis(300);

    @TempDir
    Path dir;
    private TestBroker broker;
    private SluiceGrpc.SluiceBlockingStub admin;
    /** While set, every commit waits until it is counted down. */
    private final AtomicReference<CountDownLatch> hold = new AtomicReference<>();

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withBeforeCommit(writes -> {
            CountDownLatch latch = hold.get();
            if (latch != null && !latch.await(StreamClient.WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("the test did not release the commit");
            }
        })));
        admin = broker.blocking();
    }

    @AfterEach
    void stop() throws InterruptedException {
        CountDownLatch latch = hold.getAndSet(null);
        if (latch != null) {
            latch.countDown();
        }
        broker.close();
    }

    private void publish(String topic, int n) {
        for (int i = 0; i < n; i++) {
            admin.publish(PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFromUtf8("m" + i))
                    .build());
        }
    }

    private ConsumerGroupStats stats(String topic, String group) {
        return admin.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build()).getStats(0)
                .getConsumerGroupsList().stream().filter(g -> g.getGroupName().equals(group)).findFirst().orElseThrow();
    }

    private static List<MessageDelivery> receive(StreamClient stream, int n) throws InterruptedException {
        var got = new ArrayList<MessageDelivery>();
        while (got.size() < n) {
            got.add(stream.delivery());
        }
        return got;
    }

    /** Asserts nothing but heartbeats arrives for a while. */
    private static void expectQuiet(StreamClient stream, String why) throws InterruptedException {
        long deadline = System.nanoTime() + QUIET.toNanos();
        while (System.nanoTime() < deadline) {
            SubscribeDownstream m = stream.poll(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            assertTrue(m == null || m.hasHeartbeat(), why + ": got " + m);
        }
    }

    @Test
    void aSharedStreamsSyncIsAnsweredOnlyOnceItsAcksAreCommittedAndTheyAreNotDeliveredAgain() throws Exception {
        publish("jobs", 3);
        var config = ConsumerGroupConfig.newBuilder().setAckWaitMs(60_000).build();
        try (var stream = StreamClient.shared(broker.async(), "jobs", "workers", config)) {
            stream.credit(3);
            List<MessageDelivery> got = receive(stream, 3);
            assertEquals(3, stats("jobs", "workers").getInFlight());

            var latch = new CountDownLatch(1);
            hold.set(latch);
            stream.batchAck(got.stream().map(MessageDelivery::getMessageId).toList());
            stream.sync(7);
            expectQuiet(stream, "no synced while the acks' commit is held");
            assertEquals(3, stats("jobs", "workers").getInFlight(), "the acks are not committed yet");

            hold.set(null);
            latch.countDown();
            assertEquals(7, stream.synced());
            assertEquals(0, stats("jobs", "workers").getInFlight(), "synced: the acks are committed");
            stream.cancel();
        }
        try (var next = StreamClient.shared(broker.async(), "jobs", "workers", config)) {
            next.credit(10);
            next.sync(1);
            assertEquals(1, next.synced(), "nothing is delivered again, and a sync with no settles is answered");
        }
    }

    @Test
    void anExclusiveStreamsSyncIsAnsweredOnceItsAckMovedTheCursor() throws Exception {
        publish("events", 5);
        try (var stream = StreamClient.group(broker.async(), "events", "readers", InitialPosition.EARLIEST)) {
            stream.credit(5);
            List<MessageDelivery> got = receive(stream, 5);
            var latch = new CountDownLatch(1);
            hold.set(latch);
            stream.ack(got.get(3).getMessageId());
            stream.sync(1);
            expectQuiet(stream, "no synced while the ack's commit is held");

            hold.set(null);
            latch.countDown();
            assertEquals(1, stream.synced());
            assertEquals(got.get(3).getSequence(), stats("events", "readers").getCursorSequence(),
                    "synced: the cursor is committed at the ack");
        }
    }

    @Test
    void aFloodOfSyncsIsAnsweredWithTheLastAndTheStreamStaysUsable() throws Exception {
        publish("flood", 1);
        try (var stream = StreamClient.shared(broker.async(), "flood", "g", ConsumerGroupConfig.getDefaultInstance())) {
            int syncs = 20_000;
            for (int i = 1; i <= syncs; i++) {
                stream.sync(i);
            }
            long last = 0;
            int answers = 0;
            while (last != syncs) {
                long id = stream.synced();
                assertTrue(id > last, "answers only grow: " + id + " after " + last);
                last = id;
                answers++;
            }
            assertTrue(answers <= syncs, answers + " answers");
            stream.credit(1);
            MessageDelivery d = stream.delivery();
            assertEquals("m0", d.getPayload().toStringUtf8());
            assertNull(stream.closedStatus(), "still open");
        }
        assertFalse(broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("flood").build())
                .getStatsList().isEmpty());
    }

    @Test
    void aSyncBeforeInitIsRefused() throws Exception {
        try (var stream = StreamClient.open(broker.async())) {
            stream.sync(1);
            stream.expectClosedWith(Status.Code.INVALID_ARGUMENT);
        }
    }
}
