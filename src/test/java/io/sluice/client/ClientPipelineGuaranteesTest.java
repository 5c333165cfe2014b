package io.sluice.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.Await;
import io.sluice.server.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dedup ids and expected last sequences on the client's shared PublishStream, against a real broker. */
class ClientPipelineGuaranteesTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private TestBroker broker;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        broker.close();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closing.add(c);
        return c;
    }

    private SluiceClient client(int port, PublishOptions options) {
        return closeLater(SluiceClient.connect("127.0.0.1:" + port, WAIT, options));
    }

    private static byte[] bytes(String text) {
        return text.getBytes(UTF_8);
    }

    @Test
    void aDedupIdOnTheStreamIsStoredOnceAndTheRepeatsAnswerTheOriginal() throws Exception {
        SluiceClient client = client(broker.port(), PublishOptions.defaults());
        PublishOutcome first = client.publish("orders", bytes("a"), Map.of(), PublishGuarantees.dedupId("order-1"));
        assertFalse(first.duplicate());

        PublishOutcome again = client.publish("orders", bytes("a, sent again"), Map.of(),
                PublishGuarantees.dedupId("order-1"));
        assertTrue(again.duplicate());
        assertEquals(first.published(), again.published(), "the original's id, sequence and timestamp");

        PublishOutcome async = client.publishAsync("orders", bytes("a, async"), Map.of(),
                PublishGuarantees.dedupId("order-1")).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(async.duplicate());
        assertEquals(first.published(), async.published());

        PublishOutcome other = client.publishAsync("orders", bytes("b"), Map.of(),
                PublishGuarantees.dedupId("order-2")).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertFalse(other.duplicate());
        assertTrue(other.published().sequence() > first.published().sequence());
        assertEquals(2, client.stats("orders").getFirst().totalMessages());
    }

    @Test
    void aPublishWithADedupIdRetriedAfterABrokenStreamIsStoredOnceAndAnsweredAsTheDuplicate() throws Exception {
        var proxy = closeLater(new TcpProxy(broker.port()));
        SluiceClient client = client(proxy.port(), PublishOptions.defaults().withRetryFor(WAIT));
        SluiceClient direct = client(broker.port(), PublishOptions.defaults());
        client.publish("retried", bytes("warm"));   // the stream is open before the answers are held

        proxy.holdAnswers();
        var future = client.publishAsync("retried", bytes("once"), Map.of(), PublishGuarantees.dedupId("order-7"));
        Await.until("the broker stored the publish whose answer is held",
                () -> direct.stats("retried").getFirst().totalMessages() == 2);
        long stored = direct.stats("retried").getFirst().lastSequence();
        proxy.cutAll();   // the answer is lost with the connection: the client sends the request again
        proxy.release();

        PublishOutcome outcome = future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(outcome.duplicate(), "the retry found the dedup id stored by the broken stream");
        assertEquals(stored, outcome.published().sequence(), "the original sequence");
        assertEquals(2, direct.stats("retried").getFirst().totalMessages(), "stored once");
    }

    @Test
    void anExpectedLastSequenceThatDoesNotHoldFailsOnlyItsOwnMessage() throws Exception {
        SluiceClient client = client(broker.port(), PublishOptions.defaults());
        long last = client.publish("cond", bytes("a")).sequence();

        var stale = client.publishAsync("cond", bytes("b"), Map.of(), PublishGuarantees.expectLastSequence(0));
        var current = client.publishAsync("cond", bytes("c"), Map.of(), PublishGuarantees.expectLastSequence(last));
        var plain = client.publishAsync("cond", bytes("d"), Map.of());

        var e = assertThrows(ExecutionException.class, () -> stale.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        var refused = assertInstanceOf(SluiceClientException.class, e.getCause());
        assertEquals(Status.Code.FAILED_PRECONDITION, refused.code());
        PublishOutcome stored = current.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertFalse(stored.duplicate());
        assertTrue(stored.published().sequence() > last);
        assertTrue(plain.get(WAIT.toSeconds(), TimeUnit.SECONDS).sequence() > stored.published().sequence());

        // A blocking publish fails the same way, and as a unary publish does.
        var streamed = assertThrows(SluiceClientException.class, () -> client.publish("cond", bytes("e"), Map.of(),
                PublishGuarantees.expectLastSequence(last)));
        var unary = assertThrows(SluiceClientException.class, () -> client(broker.port(),
                PublishOptions.defaults().withUnary()).publish("cond", bytes("e"), Map.of(),
                PublishGuarantees.expectLastSequence(last)));
        assertEquals(unary.getClass(), streamed.getClass());
        assertEquals(Status.Code.FAILED_PRECONDITION, streamed.code());
        assertEquals(3, client.stats("cond").getFirst().totalMessages());
    }

    @Test
    void topicSettingsAnswerWhatTheBrokerStoredAndWhetherItCreatedTheTopic() {
        SluiceClient client = client(broker.port(), PublishOptions.defaults());
        var asked = TopicSettings.unlimited().withMaxAge(Duration.ofMinutes(1)).withDedupWindow(Duration.ofHours(1));
        ConfiguredTopic first = client.setTopicSettings("clamped", asked);
        assertTrue(first.created());
        assertEquals(asked.withDedupWindow(Duration.ofMinutes(1)), first.settings(),
                "a dedup window is never longer than the max age: stored as the max age");
        ConfiguredTopic again = client.setTopicSettings("clamped", asked.withMaxMessages(10));
        assertFalse(again.created());
        assertEquals(10, again.settings().maxMessages());
        assertFalse(client.configureTopic("clamped", asked), "the boolean form still answers created");
    }
}
