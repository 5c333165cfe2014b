package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Await;
import io.sluice.Contents;
import io.sluice.Cursors;
import io.sluice.Figures;
import io.sluice.Ledger;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.store.StoreOptions;
import io.sluice.store.sqlite.SqliteStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A full disk, reproduced with SQLite's page limit (a store option) and freed by raising it at
 * runtime: publishes get UNAVAILABLE naming the cause, only what was acknowledged is stored,
 * subscribers keep reading and acknowledging, and publishing works again with no restart.
 */
@ExtendWith(Figures.class)
class DiskFullTest {
    /** 64 pages of 4 KiB stand in for a small disk. */
    private static final long PAGES = 64;
    private static final int BIG = 8 * 1024;
    private static final String TOPIC = "big";

    @TempDir
    Path dir;

    private TestBroker broker;
    private final Ledger ledger = new Ledger();
    private final List<StreamClient> streams = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        streams.forEach(StreamClient::close);
        broker.close();
    }

    @Test
    void aFullDiskRefusesPublishesWhileSubscribersReadAndPublishingResumesOnceSpaceIsFreed() throws Exception {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withMaxDatabaseBytes(PAGES * 4096L)));
        var client = broker.blocking();
        var reader = track(StreamClient.group(broker.async(), TOPIC, "readers", InitialPosition.EARLIEST));
        reader.credit(100_000);

        int refusals = 0;
        StatusRuntimeException full = null;
        for (int i = 0; full == null; i++) {
            assertTrue(i < 200, PAGES + " pages cannot hold 200 x " + BIG + " bytes");
            try {
                publish(client, "fill-" + i, BIG);
            } catch (StatusRuntimeException e) {
                full = e;
                refusals++;
            }
        }
        int stored = ledger.size();
        assertEquals(Status.Code.UNAVAILABLE, full.getStatus().getCode(), full.getStatus().toString());
        assertTrue(full.getStatus().getDescription().contains("disk") && full.getStatus().getDescription()
                .contains("full"), "names the cause: " + full.getStatus());
        for (int i = 0; i < 5; i++) {
            refusals += refusedAsFull(() -> publish(client, "more-" + System.nanoTime(), BIG));
        }
        refusals += refusedAsFull(() -> client.batchPublish(BatchPublishRequest.newBuilder().setTopic(TOPIC)
                .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFrom(new byte[BIG]))).build()));

        // The subscriber reads everything acknowledged, in order, and nothing else; its ack is stored.
        MessageDelivery last = null;
        for (int i = 0; i < stored; i++) {
            last = reader.delivery();
            assertEquals("fill-" + i, Ledger.key(last.getPayload()), "delivered in order, nothing refused");
        }
        reader.ack(last.getMessageId());
        awaitCursor("readers", last.getSequence());
        reader.expectHeartbeatWithoutDelivery(last.getSequence());
        // A new subscriber and a reconnecting one read from a full disk too.
        var browser = track(StreamClient.browse(broker.async(), TOPIC, InitialPosition.EARLIEST, 0));
        browser.credit(stored);
        for (int i = 0; i < stored; i++) {
            assertEquals("fill-" + i, Ledger.key(browser.delivery().getPayload()));
        }
        reader.cancel();
        var again = track(StreamClient.group(broker.async(), TOPIC, "readers", InitialPosition.EARLIEST));
        again.credit(10);
        again.expectHeartbeatWithoutDelivery(last.getSequence());
        assertEquals(stored, stats().getTotalMessages(), "exactly the acknowledged messages are stored");

        // Space is freed (the limit raised at runtime): publishing works again, with no restart.
        long limit = ((SqliteStore) broker.server().store()).setMaxPageCount(PAGES * 16);
        assertEquals(PAGES * 16, limit);
        for (int i = 0; i < 10; i++) {
            publish(client, "after-" + i, BIG);
        }
        for (int i = 0; i < 10; i++) {
            assertEquals("after-" + i, Ledger.key(again.delivery().getPayload()), "new messages flow at once");
        }
        Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
        v.assertNothingLost(ledger);
        assertEquals(0, v.storedWithoutAnswer(), "nothing refused was stored");
        System.out.printf("DiskFullTest: %d x %d B fit in %d pages, %d publishes refused UNAVAILABLE (\"%s\"); "
                        + "after raising the limit to %d pages %d acknowledged, all there%n",
                stored, BIG, PAGES, refusals, full.getStatus().getDescription(), limit, ledger.size());
        Figures.row("disk full (page limit)").cycles(1).acknowledged(ledger.size()).lost(v.lost().size())
                .inputs(refusals);
    }

    @Test
    void subscribersConnectAndAckAndADeletionFreesSpaceWhilePublishersKeepHittingAFullDisk() throws Exception {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withMaxDatabaseBytes(PAGES * 4096L)));
        var client = broker.blocking();
        var logs = LogRecorder.install();
        for (int i = 0; i < 6; i++) {
            publish(client, "scratch-" + i, BIG, "scratch");   // the topic an operator will delete
        }
        for (int i = 0; ; i++) {
            try {
                publish(client, "fill-" + i, BIG);
            } catch (StatusRuntimeException e) {
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
                break;
            }
        }
        long lastFill = stats().getLastSequence();
        // Publishers keep retrying into the full disk while subscribers come, read, ack and go.
        var stop = new AtomicBoolean();
        var refused = new AtomicInteger();
        var publishers = new ArrayList<Thread>();
        for (int t = 0; t < 4; t++) {
            var stub = SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(60, TimeUnit.SECONDS);
            int id = t;
            publishers.add(Thread.ofVirtual().start(() -> {
                for (int n = 0; !stop.get(); n++) {
                    try {
                        publish(stub, "retry-" + id + "-" + n, BIG);
                    } catch (StatusRuntimeException e) {
                        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
                        refused.incrementAndGet();
                    }
                }
            }));
        }
        try {
            awaitRefusals(refused, 50);
            int rounds = 6;
            for (int round = 0; round < rounds; round++) {
                try (var s = StreamClient.group(broker.async(), TOPIC, "g" + round % 2, InitialPosition.EARLIEST)) {
                    s.credit(1);
                    MessageDelivery d = s.delivery();
                    s.ack(d.getMessageId());
                    awaitCursor("g" + round % 2, d.getSequence());
                }
            }
            assertEquals(2, stats().getConsumerGroupsCount(), "both groups were stored");
            assertTrue(lastFill > 0);
            // An operator frees space by deleting a topic: the retrying publishers get through again,
            // with no restart (until they fill it once more).
            int stored = ledger.size();
            assertTrue(broker.blocking().deleteTopic(io.sluice.proto.DeleteTopicRequest.newBuilder()
                    .setTopic("scratch").build()).getDeleted(), "the deletion went through a full disk");
            Await.until("a publish gets through after the deletion", () -> ledger.size() > stored);
        } finally {
            stop.set(true);
            for (Thread t : publishers) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
            logs.close();
        }
        long logged = logs.warnings("io.sluice.store.Writer", "full");
        assertTrue(logged <= 3, "a full disk is logged once per episode, not once per refused write: " + logged
                + " warnings for " + refused.get() + " refusals");
        ledger.forget(k -> k.startsWith("scratch-"));   // deleted on purpose
        Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
        v.assertNothingLost(ledger);
        System.out.printf("DiskFullTest under failing publishers (%d refused, %d warnings logged): subscribers "
                + "opened, read and acked 6 times; DeleteTopic freed space and publishing resumed%n", refused.get(),
                logged);
        Figures.row("disk full (page limit)").cycles(1).acknowledged(ledger.size()).lost(v.lost().size())
                .inputs(refused.get());
    }

    @Test
    void newGroupsAndBrowsersReadFromAFullDiskAndTheFirstAckAfterSpaceIsBackStoresTheGroup() throws Exception {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withMaxDatabaseBytes(PAGES * 4096L)));
        var client = broker.blocking();
        for (int i = 0; ; i++) {
            try {
                publish(client, "fill-" + i, BIG);
            } catch (StatusRuntimeException e) {
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
                break;
            }
        }
        String firstKey = "fill-0";
        // Many new groups with long names: their rows cannot all fit the pages left, yet every one reads.
        int groups = 200;
        for (int g = 0; g < groups; g++) {
            try (var s = StreamClient.group(broker.async(), TOPIC, "new-group-" + g + "-" + "x".repeat(150),
                    InitialPosition.EARLIEST)) {
                s.credit(1);
                assertEquals(firstKey, Ledger.key(s.delivery().getPayload()), "group " + g + " reads while full");
            }
        }
        try (var browser = StreamClient.browse(broker.async(), "never-published", InitialPosition.EARLIEST, 0)) {
            browser.credit(1);
            browser.expectHeartbeatWithoutDelivery(0);   // a browser of a topic that does not exist yet waits
        }
        refusedAsFull(() -> publish(client, "still-full", BIG));

        ((SqliteStore) broker.server().store()).setMaxPageCount(PAGES * 16);
        publish(client, "after", BIG);   // writes resume by themselves
        var late = track(StreamClient.group(broker.async(), TOPIC, "late", InitialPosition.EARLIEST));
        late.credit(1);
        MessageDelivery d = late.delivery();
        late.ack(d.getMessageId());
        awaitCursor("late", d.getSequence());
        System.out.printf("DiskFullTest: %d new groups read from a full disk (%d pages), a browser waited, writes "
                + "resumed once space was back%n", groups, PAGES);
    }

    private static void awaitRefusals(AtomicInteger refused, int n) {
        Await.until("the publishers hit the full disk", () -> refused.get() >= n, refused::get);
    }

    private int refusedAsFull(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
            assertTrue(e.getStatus().getDescription().contains("full"), e.getStatus().toString());
            return 1;
        }
        throw new AssertionError("a write fitted into a full disk");
    }

    private void publish(SluiceGrpc.SluiceBlockingStub stub, String key, int size) {
        publish(stub, key, size, TOPIC);
    }

    private void publish(SluiceGrpc.SluiceBlockingStub stub, String key, int size, String topic) {
        var payload = ledger.attempt(key).concat(ByteString.copyFrom(new byte[size]));
        var r = stub.publish(PublishRequest.newBuilder().setTopic(topic).setPayload(payload)
                .putAttributes("writer", key).build());
        ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
    }

    private io.sluice.proto.TopicStats stats() {
        return broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(TOPIC).build()).getStats(0);
    }

    private void awaitCursor(String group, long sequence) {
        Cursors.await(broker.blocking(), TOPIC, group, sequence);
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }
}
