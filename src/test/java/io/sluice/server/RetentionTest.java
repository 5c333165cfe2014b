package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Await;
import io.sluice.Cursors;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.ConfigureTopicRequest;
import io.sluice.proto.ConfigureTopicResponse;
import io.sluice.proto.DiscardPolicy;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.TopicConfig;
import io.sluice.store.StoreOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * SPEC §7 "Topic configuration and retention" against the real server: each limit under each
 * policy, the stats' configuration, bytes and discarded count, server defaults for auto-created
 * topics, a lowered limit removed in chunks, and a group whose cursor fell below the oldest
 * retained message.
 */
class RetentionTest {
    @TempDir
    Path dir;

    private TestBroker broker;
    private final AtomicLong clock = new AtomicLong(System.currentTimeMillis());
    private final List<StreamClient> streams = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        streams.forEach(StreamClient::close);
        if (broker != null) {
            broker.close();
        }
    }

    private void start(StoreOptions options) {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(options.withClock(clock::get)));
    }

    @Test
    void configureTopicCreatesOrReplacesAndStatsShowTheConfiguration() {
        start(StoreOptions.defaults());
        var stub = broker.blocking();
        TopicConfig config = TopicConfig.newBuilder().setMaxMessages(10).setMaxBytes(1000).setMaxAgeMs(60_000)
                .setDiscard(DiscardPolicy.DISCARD_NEW).setDedupWindowMs(30_000).build();
        ConfigureTopicResponse created = configure("t", config);
        assertTrue(created.getCreated());
        assertEquals(config, created.getConfig());
        assertEquals(config, stats("t").getConfig());
        TopicConfig other = TopicConfig.newBuilder().setMaxMessages(3).build();
        ConfigureTopicResponse replaced = configure("t", other);
        assertFalse(replaced.getCreated());
        assertEquals(other, stats("t").getConfig());
        broker.restart();
        assertEquals(other, stats("t").getConfig(), "kept across a restart");
        TopicConfig longWindow = TopicConfig.newBuilder().setMaxAgeMs(1_000).setDedupWindowMs(60_000).build();
        assertEquals(longWindow.toBuilder().setDedupWindowMs(1_000).build(), configure("t", longWindow).getConfig(),
                "a dedup window is never longer than the max age: answered as it applies");
        var bad = assertThrows(StatusRuntimeException.class, () -> broker.blocking().configureTopic(
                ConfigureTopicRequest.newBuilder().setTopic("bad name!").setConfig(other).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
    }

    @Test
    void discardOldKeepsTheCountAndByteLimitsAtEveryCommit() {
        start(StoreOptions.defaults());
        configure("count", TopicConfig.newBuilder().setMaxMessages(5).build());
        var published = new ArrayList<PublishResponse>();
        for (int i = 0; i < 12; i++) {
            published.add(publish("count", "m" + i));
            var s = stats("count");
            assertEquals(Math.min(i + 1, 5), s.getTotalMessages(), "never over the limit once answered");
        }
        var s = stats("count");
        assertEquals(published.get(7).getSequence(), s.getFirstSequence(), "first_sequence is the oldest retained");
        assertEquals(published.get(11).getSequence(), s.getLastSequence());
        assertEquals(7, s.getDiscardedMessages());
        assertEquals(3 * 2 + 2 * 3, s.getTotalBytes(), "m7..m9 are 2 bytes, m10 and m11 3");
        var batch = BatchPublishRequest.newBuilder().setTopic("count");
        for (int i = 0; i < 20; i++) {
            batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("b" + i)));
        }
        var stored = broker.blocking().batchPublish(batch.build());
        s = stats("count");
        assertEquals(5, s.getTotalMessages(), "a batch larger than the limit keeps its newest");
        assertEquals(stored.getResults(15).getSequence(), s.getFirstSequence());
        assertEquals(27, s.getDiscardedMessages());

        configure("bytes", TopicConfig.newBuilder().setMaxBytes(100).build());
        for (int i = 0; i < 10; i++) {
            broker.blocking().publish(PublishRequest.newBuilder().setTopic("bytes")
                    .setPayload(ByteString.copyFrom(new byte[26])).putAttributes("ab", "cd").build());
            s = stats("bytes");
            assertTrue(s.getTotalBytes() <= 100, "payload plus attribute bytes within the limit: " + s.getTotalBytes());
        }
        assertEquals(3, s.getTotalMessages(), "30 bytes each (26 of payload, 4 of attributes)");
        assertEquals(90, s.getTotalBytes());
        assertEquals(7, s.getDiscardedMessages());

        // A message larger than the byte limit could never be retained: refused, not stored and removed.
        var tooLarge = assertThrows(StatusRuntimeException.class, () -> broker.blocking().publish(PublishRequest
                .newBuilder().setTopic("bytes").setPayload(ByteString.copyFrom(new byte[101])).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, tooLarge.getStatus().getCode());
        assertEquals("topic bytes cannot hold a message of 101 bytes: max_bytes=100",
                tooLarge.getStatus().getDescription());
        assertEquals(3, stats("bytes").getTotalMessages(), "nothing stored, nothing removed");
        assertEquals(7, stats("bytes").getDiscardedMessages());
    }

    @Test
    void discardNewRefusesWhatWouldExceedALimitNamingIt() {
        start(StoreOptions.defaults());
        configure("n", TopicConfig.newBuilder().setMaxMessages(2).setDiscard(DiscardPolicy.DISCARD_NEW).build());
        publish("n", "1");
        publish("n", "2");
        var e = assertThrows(StatusRuntimeException.class, () -> publish("n", "3"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertEquals("topic n is full: max_messages=2 (discard policy NEW)", e.getStatus().getDescription());
        assertEquals(2, stats("n").getTotalMessages());
        assertEquals(0, stats("n").getDiscardedMessages());

        configure("b", TopicConfig.newBuilder().setMaxBytes(10).setDiscard(DiscardPolicy.DISCARD_NEW).build());
        publish("b", "12345");
        var batch = BatchPublishRequest.newBuilder().setTopic("b")
                .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("123")))
                .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("123")));
        var refused = assertThrows(StatusRuntimeException.class, () -> broker.blocking().batchPublish(batch.build()));
        assertEquals("topic b is full: max_bytes=10 (discard policy NEW)", refused.getStatus().getDescription());
        assertEquals(1, stats("b").getTotalMessages(), "the batch is refused whole");
        publish("b", "12345");
        assertEquals(10, stats("b").getTotalBytes());
    }

    @Test
    void ageRemovesOldMessagesWithinASecondAndAnEmptiedTopicKeepsItsLastSequence() throws Exception {
        start(StoreOptions.defaults());
        configure("aged", TopicConfig.newBuilder().setMaxAgeMs(10_000).build());
        publish("aged", "old-1");
        PublishResponse last = publish("aged", "old-2");
        clock.addAndGet(5_000);
        PublishResponse young = publish("aged", "young");
        clock.addAndGet(6_000);   // the first two are 11 s old, the third 6 s
        Await.until("the messages past the max age are removed", () -> stats("aged").getTotalMessages() == 1,
                () -> stats("aged"));
        assertEquals(young.getSequence(), stats("aged").getFirstSequence());
        clock.addAndGet(5_000);
        Await.until("the topic is emptied", () -> stats("aged").getTotalMessages() == 0, () -> stats("aged"));
        assertEquals(3, stats("aged").getDiscardedMessages());
        assertEquals(0, stats("aged").getTotalBytes());
        assertTrue(last.getSequence() < young.getSequence());
        assertEquals(young.getSequence(), stats("aged").getLastSequence(), "the stats show the kept last sequence");
        var browse = track(StreamClient.browse(broker.async(), "aged", InitialPosition.EARLIEST, 0));
        browse.credit(10);
        browse.expectHeartbeatWithoutDelivery(young.getSequence());   // heartbeats too
        browse.close();

        broker.restart();   // the emptied topic's last sequence is kept: a conditional publish continues on it
        assertEquals(young.getSequence(), stats("aged").getLastSequence(), "and so after a restart");
        var stale = assertThrows(StatusRuntimeException.class, () -> broker.blocking().publish(PublishRequest
                .newBuilder().setTopic("aged").setPayload(ByteString.copyFromUtf8("x")).setExpectedLastSequence(0)
                .build()));
        assertEquals("topic aged: expected last sequence 0, but it is " + young.getSequence(),
                stale.getStatus().getDescription());
        PublishResponse next = broker.blocking().publish(PublishRequest.newBuilder().setTopic("aged")
                .setPayload(ByteString.copyFromUtf8("x")).setExpectedLastSequence(young.getSequence()).build());
        assertTrue(next.getSequence() > young.getSequence(), "sequences are never reused");
        assertEquals(1, stats("aged").getTotalMessages());
        assertEquals(3, stats("aged").getDiscardedMessages());
    }

    @Test
    void autoCreatedTopicsTakeTheServerDefaults() {
        start(StoreOptions.defaults().withTopicDefaults(
                new io.sluice.store.TopicConfig(0, 0, 2, io.sluice.store.TopicConfig.Discard.OLD, 0)));
        for (int i = 0; i < 5; i++) {
            publish("auto", "m" + i);
        }
        var s = stats("auto");
        assertEquals(2, s.getTotalMessages());
        assertEquals(2, s.getConfig().getMaxMessages());
        assertTrue(configure("configured", TopicConfig.getDefaultInstance()).getCreated());
        for (int i = 0; i < 5; i++) {
            publish("configured", "m" + i);
        }
        assertEquals(5, stats("configured").getTotalMessages(), "a configured topic keeps its own configuration");
    }

    @Test
    void aLoweredLimitIsReachedInChunksWhilePublishesGoOn() {
        start(StoreOptions.defaults());
        for (int b = 0; b < 10; b++) {
            var batch = BatchPublishRequest.newBuilder().setTopic("big");
            for (int i = 0; i < 2_000; i++) {
                batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("m" + b + "-" + i)));
            }
            broker.blocking().batchPublish(batch.build());
        }
        assertEquals(20_000, stats("big").getTotalMessages());
        configure("big", TopicConfig.newBuilder().setMaxMessages(100).build());
        publish("elsewhere", "a publish between the chunks");
        Await.until("the topic is trimmed to its new limit", () -> stats("big").getTotalMessages() == 100,
                () -> stats("big"));
        // The count is kept in memory and raised just after the commit a reader may already see.
        Await.until("every removal is counted", () -> stats("big").getDiscardedMessages() >= 19_900,
                () -> stats("big"));
        assertEquals(19_900, stats("big").getDiscardedMessages());
    }

    @Test
    void aGroupWhoseCursorFellBelowTheOldestRetainedContinuesAtIt() throws Exception {
        start(StoreOptions.defaults());
        configure("r", TopicConfig.newBuilder().setMaxMessages(3).build());
        publish("r", "first");
        var slow = track(StreamClient.group(broker.async(), "r", "slow", InitialPosition.EARLIEST));
        slow.credit(1);
        MessageDelivery d = slow.delivery();
        slow.ack(d.getMessageId());
        Cursors.await(broker.blocking(), "r", "slow", d.getSequence());
        slow.close();
        var published = new ArrayList<PublishResponse>();
        for (int i = 0; i < 10; i++) {
            published.add(publish("r", "m" + i));
        }
        var again = track(StreamClient.group(broker.async(), "r", "slow", InitialPosition.EARLIEST));
        again.credit(10);
        for (int i = 7; i < 10; i++) {
            MessageDelivery next = again.delivery();
            assertEquals("m" + i, next.getPayload().toStringUtf8(), "continues at the oldest retained message");
            assertEquals(published.get(i).getSequence(), next.getSequence());
        }
        assertEquals(7, broker.servers().stream().mapToLong(b -> b.telemetry().metrics().skipped("r")).sum(),
                "m0..m6 were removed before the group read them");
    }

    /** Stats read while publishes commit: every figure from one moment, so never a topic over its limits. */
    @Test
    void statsReadWhilePublishesCommitNeverShowATopicOverItsLimit() throws Exception {
        start(StoreOptions.defaults());
        configure("busy", TopicConfig.newBuilder().setMaxMessages(20).build());
        var stop = new java.util.concurrent.atomic.AtomicBoolean();
        var publisher = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                publish("busy", "x");
            }
        });
        try {
            for (int i = 0; i < 400; i++) {
                var s = stats("busy");
                assertTrue(s.getTotalMessages() <= 20, "over the limit: " + s);
                assertEquals(s.getTotalMessages(), s.getTotalBytes(), "one byte each, read together: " + s);
            }
        } finally {
            stop.set(true);
            publisher.join();
        }
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }

    private ConfigureTopicResponse configure(String topic, TopicConfig config) {
        return broker.blocking().configureTopic(ConfigureTopicRequest.newBuilder().setTopic(topic).setConfig(config)
                .build());
    }

    private PublishResponse publish(String topic, String payload) {
        return broker.blocking().publish(PublishRequest.newBuilder().setTopic(topic)
                .setPayload(ByteString.copyFromUtf8(payload)).build());
    }

    private io.sluice.proto.TopicStats stats(String topic) {
        return broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build()).getStats(0);
    }
}
