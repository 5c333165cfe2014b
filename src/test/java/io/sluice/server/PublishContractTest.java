package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.GetTopicStatsResponse;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.ListTopicsResponse;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.PublishResult;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.Topic;
import io.sluice.proto.TopicStats;
import io.sluice.store.StoreOptions;
import io.sluice.store.StoredMessage;
import io.sluice.store.sqlite.SqliteStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * The unary half of the wire contract (SPEC sections 2 and 3), through real gRPC clients against
 * the real broker with its database in a temporary directory.
 */
class PublishContractTest {
    /** Slack for comparing server timestamps with the test's clock (same machine, same clock). */
    private static final long CLOCK_SLACK_MS = 2_000;
    private static final String RULE = "characters of A-Z a-z 0-9 . _ -";

    @TempDir
    Path dir;

    private TestBroker broker;
    private SluiceGrpc.SluiceBlockingStub sluice;

    @AfterEach
    void closeBroker() throws InterruptedException {
        if (broker != null) {
            broker.close();
        }
    }

    /** The broker with test defaults, started on first use. */
    private SluiceGrpc.SluiceBlockingStub sluice() {
        if (broker == null) {
            startBroker(c -> c);
        }
        return sluice;
    }

    private void startBroker(UnaryOperator<ServerConfig> adjust) {
        broker = TestBroker.start(dir, adjust);
        sluice = broker.blocking();
    }

    // ---- Publish ----

    @Test
    void publishAnswersAUuidV7IdAPositiveSequenceAndTheServerTime() {
        long before = System.currentTimeMillis();
        PublishResponse r = publish("orders", "hello");
        long after = System.currentTimeMillis();

        UUID id = UUID.fromString(r.getMessageId());
        assertEquals(r.getMessageId(), id.toString(), "the id is in canonical (lower-case) form");
        assertEquals(7, id.version(), "UUID version of " + id);
        assertEquals(2, id.variant(), "UUID variant (RFC 9562) of " + id);
        assertTrue(r.getSequence() > 0, "sequence " + r.getSequence());
        assertNear(before, after, r.getTimestamp(), "timestamp");
        assertNear(before, after, id.getMostSignificantBits() >>> 16, "the UUIDv7 time of the id");
    }

    @Test
    void sequencesStrictlyIncreaseAcrossTopics() {
        long previous = 0;
        var ids = new HashSet<String>();
        for (int i = 0; i < 30; i++) {
            String topic = List.of("alpha", "beta", "gamma").get(i % 3);
            PublishResponse r = publish(topic, topic + "-" + i);
            assertTrue(r.getSequence() > previous, "publish " + i + " to " + topic + ": " + r.getSequence()
                    + " after " + previous);
            previous = r.getSequence();
            assertTrue(ids.add(r.getMessageId()), "ids are unique");
        }
    }

    @Test
    void sequencesStayUniqueAndIncreasingUnderConcurrentPublishers() throws Exception {
        sluice();
        int threads = 8;
        int each = 50;
        var perThread = new ArrayList<List<Long>>();
        var failures = new ConcurrentLinkedQueue<Throwable>();
        var workers = new ArrayList<Thread>();
        for (int t = 0; t < threads; t++) {
            var mine = new ArrayList<Long>();
            perThread.add(mine);
            var stub = broker.blocking();
            String topic = "t" + t % 4;
            int id = t;
            workers.add(Thread.ofPlatform().name("publisher-" + t).start(() -> {
                try {
                    for (int n = 0; n < each; n++) {
                        mine.add(publish(stub, topic, "p" + id + "-" + n, Map.of()).getSequence());
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread w : workers) {
            w.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(w.isAlive(), w.getName() + " finished");
        }
        assertTrue(failures.isEmpty(), "publish failures: " + failures);

        var all = new HashSet<Long>();
        for (int t = 0; t < threads; t++) {
            List<Long> mine = perThread.get(t);
            for (int i = 1; i < mine.size(); i++) {
                assertTrue(mine.get(i) > mine.get(i - 1), "thread " + t + " saw " + mine.get(i) + " after "
                        + mine.get(i - 1));
            }
            all.addAll(mine);
        }
        assertEquals(threads * each, all.size(), "every sequence is distinct");
        long max = all.stream().mapToLong(Long::longValue).max().orElseThrow();
        assertTrue(publish("t0", "last").getSequence() > max, "a later publish gets a higher sequence");

        long total = sluice().getTopicStats(GetTopicStatsRequest.getDefaultInstance()).getStatsList().stream()
                .mapToLong(TopicStats::getTotalMessages).sum();
        assertEquals(threads * each + 1, total, "every acknowledged publish is stored once");
        for (int t = 0; t < 4; t++) {
            List<Long> stored = broker.server().store().read("t" + t, 0, 10_000).stream()
                    .map(StoredMessage::sequence).toList();
            assertEquals(stored.stream().sorted().toList(), stored, "topic t" + t + " reads in sequence order");
        }
    }

    @Test
    void publishesBeyondTheWritersQueueWaitForRoomAndAreAllStored() throws Exception {
        // A queue of 2 operations and a writer held in its first commit until all 300 calls are sent:
        // most of them find the queue full and wait on a thread that may block, while the transport
        // thread goes on reading.
        var holding = new AtomicBoolean();
        var allSent = new CountDownLatch(1);
        startBroker(c -> c.withWriterQueue(2).withStoreOptions(c.storeOptions()
                .withBeforeCommit(writes -> {
                    if (holding.get()) {
                        awaitQuietly(allSent);
                    }
                })));
        var stub = broker.async();
        var sequences = ConcurrentHashMap.<Long>newKeySet();
        var failures = new ConcurrentLinkedQueue<Throwable>();
        int singles = 250;
        int batches = 50;
        var done = new CountDownLatch(singles + batches);
        holding.set(true);
        for (int i = 0; i < singles; i++) {
            stub.publish(PublishRequest.newBuilder().setTopic("full").setPayload(ByteString.copyFromUtf8("s" + i))
                    .build(), observer(r -> sequences.add(r.getSequence()), failures, done));
        }
        for (int i = 0; i < batches; i++) {
            var batch = BatchPublishRequest.newBuilder().setTopic("full")
                    .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("b" + i + ".0")))
                    .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("b" + i + ".1")));
            stub.batchPublish(batch.build(), observer(
                    r -> r.getResultsList().forEach(x -> sequences.add(x.getSequence())), failures, done));
        }
        allSent.countDown();
        assertTrue(done.await(60, TimeUnit.SECONDS), "every call answered");
        assertTrue(failures.isEmpty(), "no call failed: " + failures);
        assertEquals(singles + 2 * batches, sequences.size(), "every message got its own sequence");
        assertEquals(singles + 2L * batches, sluice.getTopicStats(GetTopicStatsRequest.newBuilder()
                .addTopics("full").build()).getStats(0).getTotalMessages(), "every answered message is stored once");
    }

    /** Waits for {@code latch} (a held writer), at most a minute. */
    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Hands each answer to {@code onAnswer}, each failure to {@code failures}; counts {@code done} down at the end. */
    private static <T> StreamObserver<T> observer(Consumer<T> onAnswer, ConcurrentLinkedQueue<Throwable> failures,
                                                  CountDownLatch done) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                onAnswer.accept(value);
            }

            @Override
            public void onError(Throwable t) {
                failures.add(t);
                done.countDown();
            }

            @Override
            public void onCompleted() {
                done.countDown();
            }
        };
    }

    @Test
    void topicsAreCreatedOnFirstPublishAndListedByName() {
        assertEquals(List.of(), sluice().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList());
        long before = System.currentTimeMillis();
        for (String topic : List.of("zeta", "alpha", "mid.1", "b-2", "alpha", "under_score")) {
            publish(topic, "x");
        }
        long after = System.currentTimeMillis();

        List<Topic> topics = sluice().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList();

        assertEquals(List.of("alpha", "b-2", "mid.1", "under_score", "zeta"), topics.stream().map(Topic::getName).toList(),
                "each topic once, ordered by name");
        for (Topic t : topics) {
            assertNear(before, after, t.getCreatedAt(), "created_at of " + t.getName());
        }
    }

    // ---- BatchPublish ----

    @Test
    void batchPublishStoresContiguousSequencesInRequestOrderWithOneTimestamp() {
        long before = System.currentTimeMillis();
        var request = BatchPublishRequest.newBuilder().setTopic("batch");
        for (int i = 0; i < 5; i++) {
            request.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("m" + i))
                    .putAttributes("index", String.valueOf(i)));
        }
        BatchPublishResponse r = sluice().batchPublish(request.build());
        long after = System.currentTimeMillis();

        assertEquals(5, r.getResultsCount());
        assertNear(before, after, r.getTimestamp(), "the batch timestamp");
        long first = r.getResults(0).getSequence();
        assertTrue(first > 0);
        var ids = new HashSet<String>();
        for (int i = 0; i < 5; i++) {
            PublishResult result = r.getResults(i);
            assertEquals(first + i, result.getSequence(), "result " + i + " is contiguous, in request order");
            UUID id = UUID.fromString(result.getMessageId());
            assertEquals(7, id.version());
            assertEquals(2, id.variant());
            assertTrue(ids.add(result.getMessageId()), "ids are distinct");
        }

        List<StoredMessage> stored = broker.server().store().read("batch", 0, 100);
        assertEquals(List.of("m0", "m1", "m2", "m3", "m4"), stored.stream().map(m -> m.payload().toStringUtf8()).toList());
        for (int i = 0; i < 5; i++) {
            StoredMessage m = stored.get(i);
            assertEquals(r.getResults(i).getSequence(), m.sequence());
            assertEquals(r.getResults(i).getMessageId(), m.id().toString());
            assertEquals(r.getTimestamp(), m.timestamp(), "one timestamp for the whole batch");
            assertEquals(Map.of("index", String.valueOf(i)), m.attributes());
        }
    }

    @Test
    void batchWithAnOversizedMessageStoresNoneOfIt() {
        startBroker(c -> c.withLimits(1024, 8192));
        publish("existing", "already here");
        for (String topic : List.of("existing", "fresh")) {
            var request = BatchPublishRequest.newBuilder().setTopic(topic)
                    .addMessages(batchMessage(100))
                    .addMessages(batchMessage(100))
                    .addMessages(batchMessage(1025))   // the third is over the limit
                    .addMessages(batchMessage(100))
                    .build();

            var e = refused(Status.Code.RESOURCE_EXHAUSTED, () -> sluice.batchPublish(request));

            assertContains(e, "1024");
            assertContains(e, "message 2");
        }
        assertEquals(1, stats("existing").getTotalMessages(), "nothing of the batch was added");
        assertEquals(List.of("existing"), topicNames(), "the refused batch did not create its topic");
    }

    @Test
    void batchWithAnEmptyAttributeKeyStoresNoneOfIt() {
        publish("existing", "already here");
        for (String topic : List.of("existing", "fresh")) {
            var request = BatchPublishRequest.newBuilder().setTopic(topic)
                    .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("fine")))
                    .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("bad"))
                            .putAttributes("ok", "1").putAttributes("", "empty key"))
                    .build();

            var e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice.batchPublish(request));

            assertContains(e, "message 1");
            assertContains(e, "empty");
        }
        assertEquals(1, stats("existing").getTotalMessages(), "nothing of the batch was added");
        assertEquals(List.of("existing"), topicNames(), "the refused batch did not create its topic");
    }

    @Test
    void emptyBatchIsInvalid() {
        var e = refused(Status.Code.INVALID_ARGUMENT,
                () -> sluice().batchPublish(BatchPublishRequest.newBuilder().setTopic("t").build()));
        assertContains(e, "no messages");
        assertEquals(List.of(), topicNames());
    }

    // ---- names ----

    static Stream<Arguments> badNames() {
        return Stream.of(
                Arguments.of("empty", "", "empty"),
                Arguments.of("256 characters", "n".repeat(256), "256 characters"),
                Arguments.of("a space", "has space", "' '"),
                Arguments.of("a slash", "a/b", "'/'"),
                Arguments.of("a NUL character", "nul\0char", "U+0000"),
                Arguments.of("non-ASCII", "café", "U+00E9"),
                Arguments.of("an emoji, named by its code point and counted as one character", "a\uD83D\uDE00b",
                        "the character U+1F600 at position 1"),
                Arguments.of("a colon", "a:b", "':'"));
    }

    @ParameterizedTest(name = "topic name with {0}")
    @MethodSource("badNames")
    void badTopicNamesAreRefusedNamingTheRule(String label, String name, String complaint) {
        var calls = new LinkedHashMap<String, Executable>();
        calls.put("Publish", () -> sluice().publish(PublishRequest.newBuilder().setTopic(name)
                .setPayload(ByteString.copyFromUtf8("x")).build()));
        calls.put("BatchPublish", () -> sluice().batchPublish(BatchPublishRequest.newBuilder().setTopic(name)
                .addMessages(batchMessage(1)).build()));
        calls.put("GetTopicStats", () -> sluice().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(name)
                .build()));
        calls.put("DeleteTopic", () -> sluice().deleteTopic(DeleteTopicRequest.newBuilder().setTopic(name).build()));
        calls.put("ResetCursor", () -> sluice().resetCursor(ResetCursorRequest.newBuilder().setTopic(name)
                .setConsumerGroup("g").build()));
        calls.put("DeleteConsumerGroup", () -> sluice().deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder()
                .setTopic(name).setConsumerGroup("g").build()));
        calls.forEach((rpc, call) -> {
            var e = refused(Status.Code.INVALID_ARGUMENT, call);
            String d = e.getStatus().getDescription();
            assertNotNull(d, rpc);
            assertTrue(d.contains("topic name"), rpc + " says what is wrong: " + d);
            assertTrue(d.contains(complaint), rpc + " names the problem (" + complaint + "): " + d);
            assertTrue(d.contains("1-255") && d.contains(RULE), rpc + " names the rule: " + d);
        });
        assertEquals(List.of(), topicNames(), "no topic was created");
    }

    @Test
    void topicNameOf255CharactersIsAccepted() {
        String name = "a".repeat(200) + "Z9._-" + "b".repeat(50);
        assertEquals(255, name.length());

        PublishResponse r = publish(name, "x");

        assertTrue(r.getSequence() > 0);
        assertEquals(List.of(name), topicNames());
        assertEquals(1, stats(name).getTotalMessages());
    }

    /** The same names, but the empty one: an empty group means "default" (see emptyConsumerGroupMeansDefault). */
    static Stream<Arguments> badGroupNames() {
        return badNames().filter(a -> !((String) a.get()[1]).isEmpty());
    }

    @ParameterizedTest(name = "consumer group name with {0}")
    @MethodSource("badGroupNames")
    void badConsumerGroupNamesAreRefusedNamingTheRule(String label, String name, String complaint) {
        publish("t", "x");
        var calls = new LinkedHashMap<String, Executable>();
        calls.put("ResetCursor", () -> sluice().resetCursor(ResetCursorRequest.newBuilder().setTopic("t")
                .setConsumerGroup(name).setSequence(0).build()));
        calls.put("DeleteConsumerGroup", () -> sluice().deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder()
                .setTopic("t").setConsumerGroup(name).build()));
        calls.forEach((rpc, call) -> {
            var e = refused(Status.Code.INVALID_ARGUMENT, call);
            String d = e.getStatus().getDescription();
            assertTrue(d.contains("consumer group name"), rpc + " says what is wrong: " + d);
            assertTrue(d.contains(complaint), rpc + " names the problem (" + complaint + "): " + d);
            assertTrue(d.contains("1-255") && d.contains(RULE), rpc + " names the rule: " + d);
        });
        assertEquals(List.of(), stats("t").getConsumerGroupsList(), "no group was created");
    }

    @Test
    void emptyConsumerGroupMeansDefault() {
        long seq = publish("t", "x").getSequence();

        assertTrue(sluice().resetCursor(ResetCursorRequest.newBuilder().setTopic("t").setConsumerGroup("")
                .setSequence(seq).build()).getUpdated());
        assertEquals(Map.of("default", seq), cursors("t"));
        assertTrue(sluice().resetCursor(ResetCursorRequest.newBuilder().setTopic("t").setConsumerGroup("default")
                .setSequence(0).build()).getUpdated());
        assertEquals(Map.of("default", 0L), cursors("t"), "\"\" and \"default\" are the same group");

        assertTrue(sluice().deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder().setTopic("t")
                .setConsumerGroup("").build()).getDeleted(), "deleting \"\" deletes \"default\"");
        assertEquals(Map.of(), cursors("t"));
    }

    // ---- limits ----

    @Test
    void payloadOverTheLimitIsRefusedNamingTheLimit() {
        startBroker(c -> c.withLimits(1024, 8192));

        var e = refused(Status.Code.RESOURCE_EXHAUSTED, () -> publish(sluice, "t", bytes(1025), Map.of()));
        assertContains(e, "1025");
        assertContains(e, "1024");
        assertContains(e, "--max-message-bytes");
        assertEquals(List.of(), topicNames(), "nothing stored");

        PublishResponse atLimit = publish(sluice, "t", bytes(1024), Map.of());
        assertEquals(1024, broker.server().store().read("t", 0, 10).getFirst().payload().size());
        assertEquals(atLimit.getSequence(), stats("t").getLastSequence(), "a payload of exactly the limit is stored");
    }

    @Test
    void defaultPayloadLimitIsFourMebibytes() {
        int limit = 4 * 1024 * 1024;

        var e = refused(Status.Code.RESOURCE_EXHAUSTED, () -> publish(sluice(), "t", bytes(limit + 1), Map.of()));
        assertContains(e, String.valueOf(limit));

        publish(sluice, "t", bytes(limit), Map.of());
        assertEquals(1, stats("t").getTotalMessages());
    }

    @Test
    void batchOverTheBatchLimitIsRefused() {
        startBroker(c -> c.withLimits(1024, 8192));
        var over = BatchPublishRequest.newBuilder().setTopic("t");
        for (int i = 0; i < 9; i++) {
            over.addMessages(batchMessage(1000));   // each under the message limit, 9000 bytes in all
        }

        var e = refused(Status.Code.RESOURCE_EXHAUSTED, () -> sluice.batchPublish(over.build()));
        assertContains(e, "8192");
        assertContains(e, "--max-batch-bytes");
        assertEquals(List.of(), topicNames(), "nothing stored");

        var atLimit = BatchPublishRequest.newBuilder().setTopic("t");
        for (int i = 0; i < 8; i++) {
            atLimit.addMessages(batchMessage(1024 - Publisher.MESSAGE_OVERHEAD));   // each message's row counts too
        }
        assertEquals(8, sluice.batchPublish(atLimit.build()).getResultsCount(), "exactly the batch limit is stored");
        assertEquals(8, stats("t").getTotalMessages());
    }

    @Test
    void aBatchOfSmallAttributesThatWouldTakeMoreMemoryParsedThanABatchMayHoldIsRefusedUnparsed() {
        startBroker(c -> c.withLimits(64 * 1024, 256 * 1024));   // a batch may hold 2.25 MiB
        var heavy = BatchPublishRequest.newBuilder().setTopic("t");
        for (int m = 0; m < 3; m++) {
            var message = BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("p"));
            for (int i = 0; i < 10_000; i++) {
                message.putAttributes(Integer.toString(i, 36), "");   // under 64 KiB of attributes a message
            }
            heavy.addMessages(message);
        }
        var e = refused(Status.Code.RESOURCE_EXHAUSTED, () -> sluice.batchPublish(heavy.build()));
        assertContains(e, "3 messages with 30000 attributes");
        assertContains(e, "--max-batch-bytes");
        assertEquals(List.of(), topicNames(), "nothing stored");

        var padded = BatchPublishRequest.newBuilder().setTopic("t").addMessages(batchMessage(10));
        var fields = com.google.protobuf.UnknownFieldSet.Field.newBuilder();
        for (int i = 0; i < 200_000; i++) {
            fields.addVarint(200 + i % 10_000);   // 600 KB encoded, each kept as an object once parsed
        }
        padded.setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder().addField(15, fields.build()).build());
        var unknown = refused(Status.Code.RESOURCE_EXHAUSTED, () -> sluice.batchPublish(padded.build()));
        assertContains(unknown, "a field of no known number");

        heavy.removeMessages(2).removeMessages(1);   // 10,000 attributes: about 1 MiB parsed
        assertEquals(1, sluice.batchPublish(heavy.build()).getResultsCount());
        assertEquals(10_000, broker.server().store().read("t", 0, 1).getFirst().attributes().size());
    }

    @Test
    void batchOverTheMessageCountLimitIsRefusedAndTheWriterGoesOn() {
        // 300,000 empty messages are a 600 KB request that no byte limit catches; stored, their answer
        // alone would be over 15 MB.
        var flood = BatchPublishRequest.newBuilder().setTopic("t");
        for (int i = 0; i < 300_000; i++) {
            flood.addMessages(BatchMessage.getDefaultInstance());
        }
        var e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice().batchPublish(flood.build()));
        assertContains(e, "300000 messages");
        assertContains(e, "--max-batch-messages");
        assertEquals(List.of(), topicNames(), "nothing stored");

        var atLimit = BatchPublishRequest.newBuilder().setTopic("t");
        for (int i = 0; i < ServerConfig.DEFAULT_MAX_BATCH_MESSAGES; i++) {
            atLimit.addMessages(BatchMessage.getDefaultInstance());
        }
        var answer = sluice().batchPublish(atLimit.build());
        assertEquals(ServerConfig.DEFAULT_MAX_BATCH_MESSAGES, answer.getResultsCount());
        assertTrue(answer.getSerializedSize() < 1 << 20, "the answer fits a default client many times over");
        assertEquals(answer.getResults(ServerConfig.DEFAULT_MAX_BATCH_MESSAGES - 1).getSequence() + 1,
                publish("t", "after").getSequence(), "the writer goes on");
    }

    // ---- listing in pages ----

    @Test
    void topicsAndTheirStatsComeInPagesThatTogetherHoldEachTopicOnce() {
        var names = new ArrayList<String>();
        for (int i = 0; i < 25; i++) {
            names.add(String.format("page-%02d", i));
            publish(names.getLast(), "m");
        }
        var listed = new ArrayList<String>();
        var statted = new ArrayList<String>();
        String listToken = "";
        String statsToken = "";
        int pages = 0;
        do {
            var page = sluice().listTopics(ListTopicsRequest.newBuilder().setPageSize(10).setPageToken(listToken)
                    .build());
            assertTrue(page.getTopicsCount() <= 10);
            page.getTopicsList().forEach(t -> listed.add(t.getName()));
            listToken = page.getNextPageToken();
            var stats = sluice().getTopicStats(GetTopicStatsRequest.newBuilder().setPageSize(10)
                    .setPageToken(statsToken).build());
            stats.getStatsList().forEach(s -> statted.add(s.getTopic()));
            statsToken = stats.getNextPageToken();
            pages++;
        } while (!listToken.isEmpty());
        assertEquals(3, pages);
        assertEquals("", statsToken, "the stats end on the same page");
        assertEquals(names, listed, "every topic once, in name order");
        assertEquals(names, statted);
        assertEquals(25, sluice().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsCount(),
                "no paging fields: the first page of the default size");

        var e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice().listTopics(ListTopicsRequest.newBuilder()
                .setPageToken("not-a-token").build()));
        assertContains(e, "page_token");
        e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice().getTopicStats(GetTopicStatsRequest.newBuilder()
                .setPageSize(Pages.MAX_SIZE + 1).build()));
        assertContains(e, String.valueOf(Pages.MAX_SIZE));
    }

    @Test
    void aPageTokenIsTakenOnlyWithTheRequestItWasGivenFor() {
        for (String name : List.of("tok-a", "tok-b", "tok-c", "tok-d")) {
            publish(name, "m");
        }
        var first = sluice().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("tok-b").addTopics("tok-c")
                .setPageSize(1).build());
        assertEquals("tok-b", first.getStats(0).getTopic());
        String token = first.getNextPageToken();
        var next = sluice().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("tok-c").addTopics("tok-b")
                .addTopics("tok-c").setPageSize(1).setPageToken(token).build());
        assertEquals(List.of("tok-c"), next.getStatsList().stream().map(TopicStats::getTopic).toList(),
                "the same topics in another order are the same request");

        var e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice().getTopicStats(GetTopicStatsRequest.newBuilder()
                .addTopics("tok-a").addTopics("tok-d").setPageToken(token).build()));
        assertContains(e, "another request");
        e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice().listTopics(ListTopicsRequest.newBuilder()
                .setPageToken(token).build()));
        assertContains(e, "another request");
        String forged = java.util.Base64.getUrlEncoder().withoutPadding()
                .encodeToString("after:tok-c".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        e = refused(Status.Code.INVALID_ARGUMENT, () -> sluice().listTopics(ListTopicsRequest.newBuilder()
                .setPageToken(forged).build()));
        assertContains(e, "page_token");
    }

    // ---- attributes ----

    @Test
    void attributeWithAnEmptyKeyIsRefused() {
        var e = refused(Status.Code.INVALID_ARGUMENT, () -> publish(sluice(), "t", bytes(3), Map.of("", "v")));
        assertContains(e, "attribute keys must not be empty");
        assertEquals(List.of(), topicNames());
    }

    @Test
    void attributesOverSixtyFourKibibytesAreRefused() {
        int limit = 64 * 1024;
        // Keys and values together, in UTF-8 bytes: "k" + 65535 ASCII characters is exactly the limit.
        publish(sluice(), "t", bytes(1), Map.of("k", "v".repeat(limit - 1)));

        var e = refused(Status.Code.INVALID_ARGUMENT,
                () -> publish(sluice, "t", bytes(1), Map.of("k", "v".repeat(limit))));
        assertContains(e, String.valueOf(limit));
        // 32768 two-byte characters: half the limit in characters, over it in bytes.
        refused(Status.Code.INVALID_ARGUMENT, () -> publish(sluice, "t", bytes(1), Map.of("k", "é".repeat(limit / 2))));
        var many = IntStream.range(0, 20).boxed()
                .collect(Collectors.toMap(i -> "key-" + i, i -> "x".repeat(4000)));
        refused(Status.Code.INVALID_ARGUMENT, () -> publish(sluice, "t", bytes(1), many));

        assertEquals(1, stats("t").getTotalMessages(), "only the message at the limit was stored");
    }

    @Test
    void thousandsOfSmallAttributesUnderTheLimitAreStoredIntact() {
        var attributes = new LinkedHashMap<String, String>();
        for (int i = 0; i < 5000; i++) {
            attributes.put(String.format("k%05d", i), "v" + i % 10);   // 8 bytes each, 40,000 in all
        }

        publish(sluice(), "t", bytes(10), attributes);

        assertEquals(attributes, broker.server().store().read("t", 0, 1).getFirst().attributes());
    }

    // ---- admin ----

    @Test
    void topicStatsReportCountsSequencesTimestampsAndGroups() {
        long before = System.currentTimeMillis();
        PublishResponse first = publish("stats", "one");
        publish("other", "elsewhere");
        PublishResponse second = publish("stats", "two");
        PublishResponse third = publish("stats", "three");

        TopicStats s = stats("stats");
        assertEquals("stats", s.getTopic());
        assertEquals(3, s.getTotalMessages());
        assertEquals(first.getSequence(), s.getFirstSequence());
        assertEquals(third.getSequence(), s.getLastSequence());
        assertEquals(first.getTimestamp(), s.getFirstMessageTimestamp());
        assertEquals(third.getTimestamp(), s.getLastMessageTimestamp());
        assertTrue(s.getCreatedAt() >= before - CLOCK_SLACK_MS && s.getCreatedAt() <= first.getTimestamp(),
                "created_at " + s.getCreatedAt() + " is when the first publish created the topic");
        assertEquals(List.of(), s.getConsumerGroupsList(), "no groups yet");

        resetCursor("stats", "readers", second.getSequence());
        resetCursor("stats", "from-start", 0);

        Map<String, ConsumerGroupStats> groups = stats("stats").getConsumerGroupsList().stream()
                .collect(Collectors.toMap(ConsumerGroupStats::getGroupName, g -> g));
        assertEquals(Set.of("readers", "from-start"), groups.keySet());
        assertEquals(second.getSequence(), groups.get("readers").getCursorSequence());
        assertEquals(1, groups.get("readers").getPendingCount(), "one message after the cursor");
        assertEquals(0, groups.get("from-start").getCursorSequence());
        assertEquals(3, groups.get("from-start").getPendingCount());
    }

    @Test
    void statsOfAllTopicsAreOrderedByNameAndSkipUnknownOnes() {
        for (String topic : List.of("c", "a", "b")) {
            publish(topic, topic);
        }

        List<String> all = sluice().getTopicStats(GetTopicStatsRequest.getDefaultInstance()).getStatsList().stream()
                .map(TopicStats::getTopic).toList();
        List<String> some = sluice().getTopicStats(GetTopicStatsRequest.newBuilder()
                .addTopics("c").addTopics("unknown").addTopics("a").build()).getStatsList().stream()
                .map(TopicStats::getTopic).toList();

        assertEquals(List.of("a", "b", "c"), all);
        assertEquals(List.of("a", "c"), some);
    }

    @Test
    void deletedTopicIsGoneAndPublishingAgainRecreatesItWithHigherSequences() {
        PublishResponse old = publish("doomed", "old");
        publish("doomed", "older");
        publish("kept", "stays");
        resetCursor("doomed", "g", old.getSequence());
        Topic before = sluice().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList().stream()
                .filter(t -> t.getName().equals("doomed")).findFirst().orElseThrow();
        long highest = stats("kept").getLastSequence();

        assertTrue(deleteTopic("doomed"), "an existing topic is deleted");
        assertFalse(deleteTopic("doomed"), "a second delete finds nothing");
        assertEquals(List.of("kept"), topicNames());
        assertEquals(List.of(), sluice().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("doomed").build())
                .getStatsList());
        assertEquals(List.of(), broker.server().store().read("doomed", 0, 100));

        PublishResponse again = publish("doomed", "new");
        assertTrue(again.getSequence() > highest, "sequences are never reused: " + again.getSequence());
        TopicStats s = stats("doomed");
        assertEquals(1, s.getTotalMessages());
        assertEquals(again.getSequence(), s.getFirstSequence());
        assertEquals(List.of(), s.getConsumerGroupsList(), "the old topic's groups went with it");
        assertTrue(s.getCreatedAt() >= before.getCreatedAt());
        assertEquals(List.of("new"), broker.server().store().read("doomed", 0, 100).stream()
                .map(m -> m.payload().toStringUtf8()).toList());
        assertEquals(1, stats("kept").getTotalMessages(), "other topics are untouched");
    }

    @Test
    void deleteConsumerGroupAnswersWhetherItExisted() {
        long seq = publish("t", "x").getSequence();
        resetCursor("t", "g1", seq);
        resetCursor("t", "g2", 0);

        assertFalse(deleteGroup("t", "never"), "a group that never existed");
        assertFalse(deleteGroup("no-such-topic", "g1"), "a topic that does not exist");
        assertTrue(deleteGroup("t", "g1"));
        assertFalse(deleteGroup("t", "g1"), "already deleted");
        assertEquals(Map.of("g2", 0L), cursors("t"));
        assertEquals(1, stats("t").getTotalMessages(), "messages are untouched");
    }

    @Test
    void resetCursorNeedsAnExistingTopicAndASequenceWithinIt() {
        long a1 = publish("a", "1").getSequence();
        long b1 = publish("b", "1").getSequence();
        long a2 = publish("a", "2").getSequence();
        long b2 = publish("b", "2").getSequence();   // beyond every sequence of "a"

        var missing = refused(Status.Code.NOT_FOUND, () -> resetCursor("missing", "g", 0));
        assertContains(missing, "missing");
        var beyond = refused(Status.Code.INVALID_ARGUMENT, () -> resetCursor("a", "g", b2));
        assertContains(beyond, String.valueOf(b2));
        assertContains(beyond, "beyond");
        refused(Status.Code.INVALID_ARGUMENT, () -> resetCursor("b", "g", b2 + 1));
        refused(Status.Code.INVALID_ARGUMENT, () -> resetCursor("a", "g", -1L));   // 2^64 - 1 on the wire
        assertEquals(List.of(), stats("a").getConsumerGroupsList(), "refused resets create no group");

        resetCursor("a", "g", a2);
        assertEquals(Map.of("g", a2), cursors("a"), "the last sequence is allowed");
        resetCursor("a", "g", b1);
        assertEquals(Map.of("g", b1), cursors("a"), "the cursor may move back, to a sequence between messages");
        resetCursor("a", "g", 0);
        assertEquals(Map.of("g", 0L), cursors("a"), "0 = before everything");
        assertTrue(a1 < b1, "sanity: sequences are global");
    }

    // ---- standard services ----

    @Test
    void healthServiceAnswersServing() {
        sluice();
        var health = HealthGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);

        for (String service : List.of("", "sluice.v1.Sluice")) {
            HealthCheckResponse r = health.check(HealthCheckRequest.newBuilder().setService(service).build());
            assertEquals(HealthCheckResponse.ServingStatus.SERVING, r.getStatus(), "service \"" + service + "\"");
        }
    }

    @Test
    void reflectionListsTheSluiceServiceAndServesItsDescriptor() throws Exception {
        sluice();
        List<ServerReflectionResponse> listed = reflect(ServerReflectionRequest.newBuilder().setListServices("").build());
        List<String> services = listed.getFirst().getListServicesResponse().getServiceList().stream()
                .map(ServiceResponse::getName).toList();
        assertTrue(services.contains("sluice.v1.Sluice"), "listed: " + services);
        assertTrue(services.contains("grpc.health.v1.Health"), "listed: " + services);

        List<ServerReflectionResponse> file = reflect(ServerReflectionRequest.newBuilder()
                .setFileContainingSymbol("sluice.v1.Sluice").build());
        List<ByteString> protos = file.getFirst().getFileDescriptorResponse().getFileDescriptorProtoList();
        assertFalse(protos.isEmpty(), "a descriptor for sluice.v1.Sluice");
        var methods = new ArrayList<String>();
        for (ByteString bytes : protos) {
            FileDescriptorProto fd = FileDescriptorProto.parseFrom(bytes);
            fd.getServiceList().forEach(s -> s.getMethodList().forEach(m -> methods.add(s.getName() + "/" + m.getName())));
        }
        assertTrue(methods.containsAll(List.of("Sluice/Publish", "Sluice/BatchPublish", "Sluice/ListTopics",
                "Sluice/Subscribe", "Sluice/GetTopicStats", "Sluice/DeleteTopic", "Sluice/DeleteConsumerGroup",
                "Sluice/ResetCursor")), "methods: " + methods);
    }

    // ---- restarts and shutdown ----

    @Test
    void messagesSurviveARestart() {
        var sent = new ArrayList<PublishResponse>();
        sent.add(publish(sluice(), "a", ByteString.copyFromUtf8("first"), Map.of("k", "v")));
        sent.add(publish(sluice, "a", bytes(3000), Map.of()));
        BatchPublishResponse batch = sluice.batchPublish(BatchPublishRequest.newBuilder().setTopic("b")
                .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("b0")).putAttributes("i", "0"))
                .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("b1")).putAttributes("i", "1"))
                .build());
        resetCursor("a", "g", sent.getFirst().getSequence());
        GetTopicStatsResponse statsBefore = sluice.getTopicStats(GetTopicStatsRequest.getDefaultInstance());
        ListTopicsResponse topicsBefore = sluice.listTopics(ListTopicsRequest.getDefaultInstance());

        broker.restart();
        sluice = broker.blocking();   // the port changed

        assertEquals(statsBefore, sluice.getTopicStats(GetTopicStatsRequest.getDefaultInstance()));
        assertEquals(topicsBefore, sluice.listTopics(ListTopicsRequest.getDefaultInstance()));
        List<StoredMessage> a = broker.server().store().read("a", 0, 100);
        assertEquals(2, a.size());
        assertEquals(sent.get(0).getMessageId(), a.get(0).id().toString());
        assertEquals("first", a.get(0).payload().toStringUtf8());
        assertEquals(Map.of("k", "v"), a.get(0).attributes());
        assertEquals(sent.get(1).getSequence(), a.get(1).sequence());
        assertEquals(bytes(3000), a.get(1).payload());
        List<StoredMessage> b = broker.server().store().read("b", 0, 100);
        assertEquals(List.of("b0", "b1"), b.stream().map(m -> m.payload().toStringUtf8()).toList());
        assertEquals(List.of(Map.of("i", "0"), Map.of("i", "1")), b.stream().map(StoredMessage::attributes).toList());
        assertEquals(batch.getResults(1).getMessageId(), b.get(1).id().toString());
        assertEquals(batch.getTimestamp(), b.get(1).timestamp());

        long after = publish("a", "after restart").getSequence();
        assertTrue(after > batch.getResults(1).getSequence(), "sequences go on after a restart");
    }

    @Test
    void sequencesAreNeverReusedAfterARestartEvenWhenTheHighestTopicWasDeleted() {
        publish("a", "1");
        long highest = publish("b", "2").getSequence();
        assertTrue(deleteTopic("b"));

        broker.restart();
        sluice = broker.blocking();

        long next = publish("a", "3").getSequence();
        assertTrue(next > highest, "sequence " + next + " after " + highest + " was handed out");
    }

    @Test
    void publishToAFullDiskIsUnavailableAndWorksAgainOnceSpaceIsFreed() {
        // 48 pages of 4 KiB of the SQLite file stand in for a small disk (PostgreSQL's disk is the server's).
        startBroker(c -> c.withStoreOptions(StoreOptions.defaults().withMaxDatabaseBytes(48 * 4096L)));
        assumeTrue(broker.server().store() instanceof SqliteStore, "a cap on the SQLite file's pages");
        int acked = 0;
        StatusRuntimeException full = null;
        for (int i = 0; i < 100 && full == null; i++) {
            try {
                publish(sluice, "big", bytes(8 * 1024), Map.of());
                acked++;
            } catch (StatusRuntimeException e) {
                full = e;
            }
        }
        assertNotNull(full, "48 pages cannot hold 100 x 8 KiB");
        assertEquals(Status.Code.UNAVAILABLE, full.getStatus().getCode(), "status " + full.getStatus());
        assertContains(full, "full");
        assertEquals(acked, stats("big").getTotalMessages(), "exactly the acknowledged messages are stored");

        publish("small", "still fits");
        assertTrue(deleteTopic("big"), "frees its pages for reuse");
        publish(sluice, "big", bytes(8 * 1024), Map.of());
        assertEquals(1, stats("big").getTotalMessages(), "big messages are stored again once there is space");
    }

    @Test
    void publishToAClosedBrokerIsUnavailable() {
        publish("t", "before");
        broker.stop();

        var e = refused(Status.Code.UNAVAILABLE, () -> publish("t", "after close"));
        assertNotNull(e.getStatus());
    }

    // ---- helpers ----

    private PublishResponse publish(String topic, String payload) {
        return publish(sluice(), topic, ByteString.copyFromUtf8(payload), Map.of());
    }

    private static PublishResponse publish(SluiceGrpc.SluiceBlockingStub stub, String topic, String payload,
                                           Map<String, String> attributes) {
        return publish(stub, topic, ByteString.copyFromUtf8(payload), attributes);
    }

    private static PublishResponse publish(SluiceGrpc.SluiceBlockingStub stub, String topic, ByteString payload,
                                           Map<String, String> attributes) {
        return stub.publish(PublishRequest.newBuilder().setTopic(topic).setPayload(payload)
                .putAllAttributes(attributes).build());
    }

    private void resetCursor(String topic, String group, long sequence) {
        assertTrue(sluice().resetCursor(ResetCursorRequest.newBuilder().setTopic(topic).setConsumerGroup(group)
                .setSequence(sequence).build()).getUpdated());
    }

    private boolean deleteTopic(String topic) {
        return sluice().deleteTopic(DeleteTopicRequest.newBuilder().setTopic(topic).build()).getDeleted();
    }

    private boolean deleteGroup(String topic, String group) {
        return sluice().deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder().setTopic(topic)
                .setConsumerGroup(group).build()).getDeleted();
    }

    private TopicStats stats(String topic) {
        List<TopicStats> stats = sluice().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build())
                .getStatsList();
        assertEquals(1, stats.size(), "stats of " + topic + ": " + stats);
        return stats.getFirst();
    }

    private Map<String, Long> cursors(String topic) {
        return stats(topic).getConsumerGroupsList().stream()
                .collect(Collectors.toMap(ConsumerGroupStats::getGroupName, ConsumerGroupStats::getCursorSequence));
    }

    private List<String> topicNames() {
        return sluice().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList().stream()
                .map(Topic::getName).toList();
    }

    private static ByteString bytes(int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return ByteString.copyFrom(b);
    }

    private static BatchMessage batchMessage(int size) {
        return BatchMessage.newBuilder().setPayload(bytes(size)).build();
    }

    private static StatusRuntimeException refused(Status.Code expected, Executable call) {
        var e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(expected, e.getStatus().getCode(), () -> "status " + e.getStatus());
        return e;
    }

    private static void assertContains(StatusRuntimeException e, String fragment) {
        String d = e.getStatus().getDescription();
        assertTrue(d != null && d.contains(fragment), "the description names \"" + fragment + "\": " + d);
    }

    private static void assertNear(long before, long after, long actual, String what) {
        assertTrue(actual >= before - CLOCK_SLACK_MS && actual <= after + CLOCK_SLACK_MS,
                what + " " + actual + " is the time of the call [" + before + ", " + after + "]");
    }

    /** One server-reflection exchange: sends the request, half-closes, collects every response. */
    private List<ServerReflectionResponse> reflect(ServerReflectionRequest request) throws InterruptedException {
        var responses = new CopyOnWriteArrayList<ServerReflectionResponse>();
        var errors = new ConcurrentLinkedQueue<Throwable>();
        var done = new CountDownLatch(1);
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(broker.channel())
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .serverReflectionInfo(observer(responses::add, errors, done));
        requests.onNext(request);
        requests.onCompleted();
        assertTrue(done.await(30, TimeUnit.SECONDS), "reflection answered");
        assertNull(errors.peek(), "reflection failed");
        assertEquals(1, responses.size(), "one response per request");
        assertFalse(responses.getFirst().hasErrorResponse(), "error: " + responses.getFirst().getErrorResponse());
        return responses;
    }
}
