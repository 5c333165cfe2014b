package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.ConfigureTopicRequest;
import io.sluice.proto.DiscardPolicy;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.TopicConfig;
import io.sluice.store.StoreOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * SPEC §7 "Publish guarantees" against the real server: dedup ids on Publish, BatchPublish and
 * PublishStream (within one batch, one group commit, across a restart, past the window) and
 * expected_last_sequence (its message, racing writers, batches, duplicates answered first).
 */
class PublishGuaranteesTest {
    @TempDir
    Path dir;

    private TestBroker broker;
    /** The wall clock the broker stamps messages with: moved by the tests that need time to pass. */
    private final AtomicLong clock = new AtomicLong(System.currentTimeMillis());

    @AfterEach
    void stop() throws InterruptedException {
        if (broker != null) {
            broker.close();
        }
    }

    private void start() {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withClock(clock::get)));
    }

    @Test
    void aDuplicateStoresNothingAndAnswersTheOriginal() {
        start();
        var stub = broker.blocking();
        PublishResponse first = stub.publish(publish("orders", "one", "order-1"));
        assertFalse(first.getDuplicate());
        clock.addAndGet(1_000);
        PublishResponse again = stub.publish(publish("orders", "one again", "order-1"));
        assertTrue(again.getDuplicate());
        assertEquals(first.getMessageId(), again.getMessageId());
        assertEquals(first.getSequence(), again.getSequence());
        assertEquals(first.getTimestamp(), again.getTimestamp(), "the original's timestamp, not now");
        PublishResponse other = stub.publish(publish("orders", "two", "order-2"));
        assertFalse(other.getDuplicate());
        PublishResponse none = stub.publish(publish("orders", "three", ""));
        assertFalse(none.getDuplicate(), "an empty dedup id is none");
        assertEquals(3, stats("orders").getTotalMessages());
        // The same id in another topic is another message.
        assertFalse(stub.publish(publish("invoices", "one", "order-1")).getDuplicate());

        broker.restart();   // remembered across a restart
        PublishResponse afterRestart = broker.blocking().publish(publish("orders", "one, later", "order-1"));
        assertTrue(afterRestart.getDuplicate());
        assertEquals(first.getSequence(), afterRestart.getSequence());
        assertEquals(3, stats("orders").getTotalMessages());
    }

    @Test
    void aDedupIdIsForgottenPastItsWindowAndTheWindowIsPerTopic() {
        start();
        var stub = broker.blocking();
        stub.configureTopic(ConfigureTopicRequest.newBuilder().setTopic("short")
                .setConfig(TopicConfig.newBuilder().setDedupWindowMs(5_000)).build());
        PublishResponse first = stub.publish(publish("short", "a", "k"));
        PublishResponse firstDefault = stub.publish(publish("default", "a", "k"));
        clock.addAndGet(4_000);
        assertTrue(stub.publish(publish("short", "a", "k")).getDuplicate(), "within the window");
        clock.addAndGet(2_000);   // 6 s: past the topic's 5 s window, within the default 2 minutes
        PublishResponse later = stub.publish(publish("short", "a", "k"));
        assertFalse(later.getDuplicate(), "past the window it is a new message");
        assertTrue(later.getSequence() > first.getSequence());
        assertTrue(stub.publish(publish("short", "b", "k")).getDuplicate(), "and the new one is remembered");
        assertEquals(firstDefault.getSequence(), stub.publish(publish("default", "a", "k")).getSequence());
        clock.addAndGet(StoreOptions.DEFAULT_DEDUP_WINDOW_MILLIS);
        assertFalse(stub.publish(publish("default", "a", "k")).getDuplicate(), "past the default 2 minutes");
    }

    @Test
    void aBatchAnswersDuplicatesWithinItselfAndAgainstEarlierPublishes() {
        start();
        var stub = broker.blocking();
        PublishResponse earlier = stub.publish(publish("t", "earlier", "a"));
        clock.addAndGet(1000);
        BatchPublishResponse r = stub.batchPublish(BatchPublishRequest.newBuilder().setTopic("t")
                .addMessages(batchMessage("a again", "a"))
                .addMessages(batchMessage("b", "b"))
                .addMessages(batchMessage("b again", "b"))
                .addMessages(batchMessage("no id", ""))
                .build());
        assertEquals(4, r.getResultsCount());
        assertTrue(r.getResults(0).getDuplicate());
        assertEquals(earlier.getMessageId(), r.getResults(0).getMessageId());
        assertFalse(r.getResults(1).getDuplicate());
        assertTrue(r.getResults(2).getDuplicate());
        assertEquals(r.getResults(1).getMessageId(), r.getResults(2).getMessageId());
        assertEquals(r.getResults(1).getSequence(), r.getResults(2).getSequence());
        assertFalse(r.getResults(3).getDuplicate());
        assertEquals(3, stats("t").getTotalMessages(), "earlier, b, no id");
        assertEquals(r.getResults(1).getSequence() + 1, r.getResults(3).getSequence(), "stored messages stay contiguous");
        assertEquals(earlier.getTimestamp(), r.getResults(0).getTimestamp(), "a duplicate keeps its original's time");
        assertEquals(earlier.getTimestamp() + 1000, r.getTimestamp());
        for (int i = 1; i < 4; i++) {
            assertEquals(r.getTimestamp(), r.getResults(i).getTimestamp());
        }
    }

    @Test
    void publishersRacingWithOneDedupIdStoreItOnceInsideOneGroupCommit() throws Exception {
        start();
        int writers = 32;
        var stubs = new ArrayList<io.sluice.proto.SluiceGrpc.SluiceBlockingStub>();
        for (int i = 0; i < writers; i++) {
            stubs.add(io.sluice.proto.SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS));
        }
        for (int round = 0; round < 20; round++) {
            String key = "race-" + round;
            var go = new CountDownLatch(1);
            var answers = ConcurrentHashMap.<String>newKeySet();
            var sequences = ConcurrentHashMap.<Long>newKeySet();
            var threads = new ArrayList<Thread>();
            for (var stub : stubs) {
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    PublishResponse r = stub.publish(publish("race", key, key));
                    answers.add(r.getMessageId());
                    sequences.add(r.getSequence());
                }));
            }
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(1, answers.size(), "every racer is answered the one stored message: " + answers);
            assertEquals(1, sequences.size());
        }
        assertEquals(20, stats("race").getTotalMessages(), "each dedup id stored once");
    }

    @Test
    void expectedLastSequenceStoresOnlyOnTheTopicsLastSequence() {
        start();
        var stub = broker.blocking();
        PublishResponse first = stub.publish(publish("ledger", "first", "").toBuilder().setExpectedLastSequence(0).build());
        var stale = assertThrows(StatusRuntimeException.class, () -> stub.publish(publish("ledger", "stale", "")
                .toBuilder().setExpectedLastSequence(0).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, stale.getStatus().getCode());
        assertEquals("topic ledger: expected last sequence 0, but it is " + first.getSequence(),
                stale.getStatus().getDescription());
        PublishResponse second = stub.publish(publish("ledger", "second", "").toBuilder()
                .setExpectedLastSequence(first.getSequence()).build());
        assertEquals(2, stats("ledger").getTotalMessages());
        // Another topic's messages do not move this topic's last sequence.
        stub.publish(publish("elsewhere", "x", ""));
        stub.publish(publish("ledger", "third", "").toBuilder().setExpectedLastSequence(second.getSequence()).build());

        var neverHeld = assertThrows(StatusRuntimeException.class, () -> stub.publish(publish("fresh", "x", "")
                .toBuilder().setExpectedLastSequence(5).build()));
        assertEquals("topic fresh: expected last sequence 5, but it is 0", neverHeld.getStatus().getDescription());
        assertTrue(stub.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("fresh").build()).getStatsList()
                .isEmpty(), "a refused publish creates no topic");

        // A batch is checked once, before its first message; refused whole.
        long last = stats("ledger").getLastSequence();
        var batch = BatchPublishRequest.newBuilder().setTopic("ledger")
                .addMessages(batchMessage("b1", "")).addMessages(batchMessage("b2", ""));
        var refused = assertThrows(StatusRuntimeException.class,
                () -> stub.batchPublish(batch.setExpectedLastSequence(last - 1).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
        BatchPublishResponse stored = stub.batchPublish(batch.setExpectedLastSequence(last).build());
        assertEquals(last + 2, stored.getResults(1).getSequence() - stored.getResults(0).getSequence() + last + 1);
        assertEquals(5, stats("ledger").getTotalMessages());
    }

    @Test
    void aDuplicateIsAnsweredEvenWithAStaleExpectation() {
        start();
        var stub = broker.blocking();
        PublishResponse first = stub.publish(publish("t", "one", "k").toBuilder().setExpectedLastSequence(0).build());
        stub.publish(publish("t", "two", ""));
        PublishResponse retried = stub.publish(publish("t", "one", "k").toBuilder().setExpectedLastSequence(0).build());
        assertTrue(retried.getDuplicate(), "the retry of a stored conditional publish is answered, not refused");
        assertEquals(first.getSequence(), retried.getSequence());
    }

    @Test
    void twoWritersRacingWithExpectationsWinExactlyOncePerSequence() throws Exception {
        start();
        int writers = 8;
        int appends = 40;
        var wins = new ConcurrentHashMap<Long, String>();
        var refusals = new AtomicLong();
        var threads = new ArrayList<Thread>();
        for (int w = 0; w < writers; w++) {
            var stub = io.sluice.proto.SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(60, TimeUnit.SECONDS);
            String me = "w" + w;
            threads.add(Thread.ofVirtual().start(() -> {
                while (wins.size() < appends) {
                    long expected = stub.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("cas").build())
                            .getStatsList().stream().mapToLong(s -> s.getLastSequence()).findFirst().orElse(0);
                    try {
                        PublishResponse r = stub.publish(publish("cas", me, "").toBuilder()
                                .setExpectedLastSequence(expected).build());
                        String before = wins.put(expected, me + "@" + r.getSequence());
                        assertEquals(null, before, "two writers won after sequence " + expected);
                    } catch (StatusRuntimeException e) {
                        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
                        refusals.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        var stats = stats("cas");
        assertEquals(wins.size(), stats.getTotalMessages(), "every stored message is one win");
        var expectedChain = new HashSet<Long>(wins.keySet());
        assertTrue(expectedChain.contains(0L), "the first win expected an empty topic");
        System.out.printf("PublishGuaranteesTest: %d writers, %d conditional appends won, %d refused as stale%n",
                writers, wins.size(), refusals.get());
    }

    @Test
    void aDuplicateIsAnsweredEvenWhenTheTopicIsFull() {
        start();
        var stub = broker.blocking();
        stub.configureTopic(ConfigureTopicRequest.newBuilder().setTopic("full").setConfig(TopicConfig.newBuilder()
                .setMaxMessages(1).setDiscard(DiscardPolicy.DISCARD_NEW)).build());
        PublishResponse first = stub.publish(publish("full", "one", "k"));
        var e = assertThrows(StatusRuntimeException.class, () -> stub.publish(publish("full", "two", "other")));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertEquals("topic full is full: max_messages=1 (discard policy NEW)", e.getStatus().getDescription());
        PublishResponse retried = stub.publish(publish("full", "one", "k"));
        assertTrue(retried.getDuplicate());
        assertEquals(first.getMessageId(), retried.getMessageId());
    }

    @Test
    void aDedupIdOfMoreThan256CharactersIsRefused() {
        start();
        var stub = broker.blocking();
        stub.publish(publish("t", "x", "k".repeat(256)));
        var e = assertThrows(StatusRuntimeException.class, () -> stub.publish(publish("t", "x", "k".repeat(257))));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("dedup_id"), e.getStatus().getDescription());
        var batch = assertThrows(StatusRuntimeException.class, () -> stub.batchPublish(BatchPublishRequest.newBuilder()
                .setTopic("t").addMessages(batchMessage("x", "k")).addMessages(batchMessage("x", "k".repeat(257)))
                .build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, batch.getStatus().getCode());
        assertEquals("message 1 of the batch (counting from 0): dedup_id is 257 characters long; the limit is 256",
                batch.getStatus().getDescription());

        // Characters as Unicode counts them: 256 emoji (512 UTF-16 units) are taken, 257 are not.
        String emoji = "\uD83D\uDE00";
        assertFalse(stub.publish(publish("t", "x", emoji.repeat(256))).getDuplicate());
        var emojis = assertThrows(StatusRuntimeException.class, () -> stub.publish(publish("t", "x",
                emoji.repeat(257))));
        assertEquals("dedup_id is 257 characters long; the limit is 256", emojis.getStatus().getDescription());
    }

    @Test
    void publishStreamAnswersDuplicatesAndStaleExpectationsPerRequest() throws Exception {
        start();
        var responses = new LinkedBlockingQueue<PublishStreamResponse>();
        var done = new CountDownLatch(1);
        StreamObserver<PublishStreamRequest> requests = broker.async().publishStream(new StreamObserver<>() {
            @Override
            public void onNext(PublishStreamResponse value) {
                responses.add(value);
            }

            @Override
            public void onError(Throwable t) {
                done.countDown();
            }

            @Override
            public void onCompleted() {
                done.countDown();
            }
        });
        requests.onNext(streamRequest(1, "a", "k1").setExpectedLastSequence(0).build());
        requests.onNext(streamRequest(2, "a again", "k1").build());
        requests.onNext(streamRequest(3, "stale", "").setExpectedLastSequence(0).build());
        requests.onNext(streamRequest(4, "b", "k2").build());
        requests.onCompleted();
        assertTrue(done.await(30, TimeUnit.SECONDS));
        List<PublishStreamResponse> got = new ArrayList<>(responses);
        assertEquals(4, got.size());
        assertEquals(0, got.get(0).getErrorCode());
        assertFalse(got.get(0).getDuplicate());
        assertTrue(got.get(1).getDuplicate());
        assertEquals(got.get(0).getMessageId(), got.get(1).getMessageId());
        assertEquals(got.get(0).getSequence(), got.get(1).getSequence());
        assertEquals(9, got.get(2).getErrorCode(), "FAILED_PRECONDITION");
        assertEquals("topic s: expected last sequence 0, but it is " + got.get(0).getSequence(),
                got.get(2).getErrorMessage());
        assertEquals(0, got.get(3).getErrorCode());
        assertEquals(2, stats("s").getTotalMessages());
    }

    private io.sluice.proto.TopicStats stats(String topic) {
        return broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build()).getStats(0);
    }

    private static PublishRequest publish(String topic, String payload, String dedupId) {
        return PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFromUtf8(payload))
                .setDedupId(dedupId).build();
    }

    private static BatchMessage batchMessage(String payload, String dedupId) {
        return BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8(payload)).setDedupId(dedupId).build();
    }

    private static PublishStreamRequest.Builder streamRequest(long id, String payload, String dedupId) {
        return PublishStreamRequest.newBuilder().setRequestId(id).setTopic("s")
                .setPayload(ByteString.copyFromUtf8(payload)).setDedupId(dedupId);
    }
}
