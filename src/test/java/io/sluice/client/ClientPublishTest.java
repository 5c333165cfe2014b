package io.sluice.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.server.TestBroker;
import io.sluice.telemetry.MetricsScrape;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SluiceClient's unary calls against a real broker: publishing, admin, and typed failures. */
class ClientPublishTest {
    @TempDir
    Path dir;

    private TestBroker broker;
    private SluiceClient client;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir, c -> c.withLimits(1024, 64 * 1024));
        client = SluiceClient.connect("127.0.0.1:" + broker.port());
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        broker.close();
    }

    @Test
    void aNullArgumentIsNamed() {
        byte[] payload = "x".getBytes(UTF_8);
        assertEquals("topic", assertThrows(NullPointerException.class,
                () -> client.publish(null, payload)).getMessage());
        assertEquals("payload", assertThrows(NullPointerException.class,
                () -> client.publishAsync("t", null)).getMessage());
        assertTrue(assertThrows(NullPointerException.class,
                () -> client.publish("t", payload, null)).getMessage().startsWith("attributes"));
        var nullValue = new java.util.HashMap<String, String>();
        nullValue.put("kind", null);
        assertTrue(assertThrows(NullPointerException.class, () -> client.publish("t", payload, nullValue))
                .getMessage().startsWith("the value of attribute kind"));
        assertEquals("callTimeout", assertThrows(NullPointerException.class,
                () -> SluiceClient.connect("127.0.0.1:1", (Duration) null)).getMessage());
    }

    @Test
    void publishAnswersIdSequenceAndTimestampAndKeepsPayloadAndAttributes() throws InterruptedException {
        long before = System.currentTimeMillis();
        Published first = client.publish("orders", "one".getBytes(UTF_8), Map.of("kind", "test", "n", "1"));
        Published second = client.publish("orders", "two".getBytes(UTF_8));

        assertEquals(36, first.id().length(), first.id());
        assertTrue(first.sequence() > 0);
        assertTrue(second.sequence() > first.sequence());
        assertTrue(first.timestamp() >= before - 1000 && first.timestamp() <= System.currentTimeMillis() + 1000);

        try (Subscription s = client.subscribe(SubscriptionOptions.of("orders").from(Position.EARLIEST))) {
            Message m = s.receive();
            assertEquals(first.id(), m.id());
            assertEquals(first.sequence(), m.sequence());
            assertEquals(first.timestamp(), m.timestamp());
            assertEquals("one", m.payloadText());
            assertEquals(Map.of("kind", "test", "n", "1"), m.attributes());
            assertEquals(1, m.deliveryCount());
            assertEquals("two", s.receive().payloadText());
        }
    }

    @Test
    void publishBatchStoresContiguousSequencesInOrderWithOneTimestamp() {
        var messages = List.of(OutboundMessage.of("a"), OutboundMessage.of("b".getBytes(UTF_8), Map.of("k", "v")),
                OutboundMessage.of("c"));
        List<Published> stored = client.publishBatch("batch", messages);

        assertEquals(3, stored.size());
        for (int i = 1; i < stored.size(); i++) {
            assertEquals(stored.get(0).sequence() + i, stored.get(i).sequence());
            assertEquals(stored.get(0).timestamp(), stored.get(i).timestamp());
        }
        TopicStats stats = client.stats("batch").getFirst();
        assertEquals(3, stats.totalMessages());
        assertEquals(stored.getFirst().sequence(), stats.firstSequence());
        assertEquals(stored.getLast().sequence(), stats.lastSequence());
    }

    @Test
    void publishAsyncCompletesOncePerMessageWithIncreasingSequences() throws Exception {
        var futures = new ArrayList<CompletableFuture<Published>>();
        for (int i = 0; i < 50; i++) {
            futures.add(client.publishAsync("async", ("m" + i).getBytes(UTF_8), Map.of("i", "" + i)));
        }
        var sequences = new ArrayList<Long>();
        for (var f : futures) {
            sequences.add(f.get(30, TimeUnit.SECONDS).sequence());
        }
        assertEquals(50, sequences.stream().distinct().count());
        assertEquals(50, client.stats("async").getFirst().totalMessages());
    }

    @Test
    void publishAsyncFailsTheFutureWithATypedException() {
        var f = client.publishAsync("bad topic", new byte[1], Map.of());
        var e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        var cause = assertInstanceOf(SluiceClientException.InvalidArgument.class, e.getCause());
        assertEquals(Status.Code.INVALID_ARGUMENT, cause.code());
    }

    @Test
    void badNamesAreInvalidArgumentsNamingTheRule() {
        var e = assertThrows(SluiceClientException.InvalidArgument.class,
                () -> client.publish("no spaces", new byte[0]));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.status().getCode());
        assertTrue(e.getMessage().startsWith("INVALID_ARGUMENT: topic name \"no spaces\""), e.getMessage());
        assertTrue(e.getMessage().contains("A-Z a-z 0-9 . _ -"), e.getMessage());

        assertThrows(SluiceClientException.InvalidArgument.class, () -> client.publishBatch("", List.of()));
        client.publish("orders", new byte[0]);
        assertThrows(SluiceClientException.InvalidArgument.class, () -> client.deleteGroup("orders", "a/b"));
        assertThrows(SluiceClientException.InvalidArgument.class, () -> client.stats("x".repeat(256)));
    }

    @Test
    void aPayloadOverTheLimitIsResourceExhausted() {
        var e = assertThrows(SluiceClientException.ResourceExhausted.class,
                () -> client.publish("orders", new byte[2048]));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.code());
    }

    @Test
    void resetCursorIsNotFoundForAMissingTopicAndInvalidBeyondTheLastSequence() {
        assertThrows(SluiceClientException.NotFound.class, () -> client.resetCursor("missing", "g", 0));
        Published p = client.publish("orders", new byte[0]);
        var e = assertThrows(SluiceClientException.InvalidArgument.class,
                () -> client.resetCursor("orders", "g", p.sequence() + 1));
        assertTrue(e.getMessage().contains("beyond the last sequence"), e.getMessage());

        client.resetCursor("orders", "g", p.sequence());
        var group = client.stats("orders").getFirst().groups().getFirst();
        assertEquals(new TopicStats.GroupStats("g", p.sequence(), 0, group.lastAckTimestamp()), group);
    }

    @Test
    void topicsStatsAndDeletionsReflectTheBroker() {
        client.publish("b-topic", new byte[0]);
        client.publishBatch("a-topic", List.of(OutboundMessage.of("1"), OutboundMessage.of("2")));
        assertEquals(List.of("a-topic", "b-topic"), client.topics().stream().map(TopicInfo::name).toList());

        long first = client.stats("a-topic").getFirst().firstSequence();
        client.resetCursor("a-topic", "g", first);
        var stats = client.stats();
        assertEquals(List.of("a-topic", "b-topic"), stats.stream().map(TopicStats::topic).toList());
        var group = stats.getFirst().groups().getFirst();
        assertEquals("g", group.group());
        assertEquals(first, group.cursor());
        assertEquals(1, group.pending());
        assertTrue(client.stats("missing").isEmpty());

        assertTrue(client.deleteGroup("a-topic", "g"));
        assertFalse(client.deleteGroup("a-topic", "g"));
        assertTrue(client.deleteTopic("b-topic"));
        assertFalse(client.deleteTopic("b-topic"));
        assertEquals(List.of("a-topic"), client.topics().stream().map(TopicInfo::name).toList());
    }

    @Test
    void anUnreachableBrokerIsUnavailableNamingTheTarget() throws IOException {
        int port = MetricsScrape.freePort();   // nothing listens there
        try (var nowhere = SluiceClient.connect("127.0.0.1:" + port, Duration.ofSeconds(5))) {
            var e = assertThrows(SluiceClientException.Unavailable.class, nowhere::topics);
            assertTrue(e.getMessage().startsWith("UNAVAILABLE: "), e.getMessage());
            assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
        }
    }

    @Test
    void aMalformedTargetIsRefusedUpFront() {
        for (String bad : List.of("", "localhost", "localhost:", "host:port", ":50051", "::1:50051", "h:70000")) {
            var e = assertThrows(IllegalArgumentException.class, () -> SluiceClient.connect(bad), bad);
            assertTrue(e.getMessage().contains("HOST:PORT"), e.getMessage());
        }
        SluiceClient.connect("[::1]:50051").close();
        SluiceClient.connect("localhost:50051").close();
    }
}
