package io.sluice.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.server.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Subscription against a real broker: credit refill, acks, nacks, takeover, browse, ends; shared
 * subscriptions and group settings.
 */
class ClientSubscribeTest {
    static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private TestBroker broker;
    private SluiceClient client;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
        client = SluiceClient.connect("127.0.0.1:" + broker.port());
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        broker.close();
    }

    private List<Published> publish(String topic, int n) {
        var batch = new ArrayList<OutboundMessage>();
        for (int i = 0; i < n; i++) {
            batch.add(OutboundMessage.of(topic + "-" + i));
        }
        var out = new ArrayList<Published>();
        for (int from = 0; from < n; from += 500) {
            out.addAll(client.publishBatch(topic, batch.subList(from, Math.min(n, from + 500))));
        }
        return out;
    }

    private Message next(Subscription s) throws InterruptedException {
        return s.receive(WAIT).orElseThrow(() -> new AssertionError("no message within " + WAIT));
    }

    private SubscriptionOptions earliest(String topic, String group) {
        return SubscriptionOptions.of(topic).withGroup(group).from(Position.EARLIEST);
    }

    private long cursorOf(String topic, String group) {
        return client.stats(topic).getFirst().groups().stream().filter(g -> g.group().equals(group))
                .mapToLong(TopicStats.GroupStats::cursor).findFirst().orElse(-1);
    }

    @Test
    void aSmallWindowDrainsALongBacklogThroughAutomaticCreditRefill() throws InterruptedException {
        List<Published> sent = publish("long", 2000);
        try (Subscription s = client.subscribe(earliest("long", "g").withCreditWindow(4))) {
            for (int i = 0; i < sent.size(); i++) {
                Message m = next(s);
                assertEquals(sent.get(i).sequence(), m.sequence(), "message " + i);
                assertEquals("long-" + i, m.payloadText());
                assertEquals(1, m.deliveryCount());
                if (i % 100 == 99) {
                    s.ack(m);
                }
            }
            assertEquals(0, s.reconnects(), "the broker never had to be asked again: no credit overrun");
        }
        assertEquals(sent.getLast().sequence(), cursorOf("long", "g"), "close waits for the last ack");
    }

    @Test
    void maxMessagesAsksTheBrokerForNoMoreThanThat() throws InterruptedException {
        List<Published> sent = publish("limited", 5);
        try (Subscription s = client.subscribe(earliest("limited", "g").withMaxMessages(2))) {
            assertEquals(sent.get(0).sequence(), next(s).sequence());
            assertEquals(sent.get(1).sequence(), next(s).sequence());
            assertTrue(s.receive(Duration.ofMillis(100)).isEmpty());
        }
        try (Subscription s = client.subscribe(earliest("limited", "g"))) {
            Message m = next(s);
            assertEquals(sent.get(0).sequence(), m.sequence());
            assertEquals(2, m.deliveryCount());
            assertEquals(2, next(s).deliveryCount());
            assertEquals(1, next(s).deliveryCount(), "the third was never delivered before");
        }
    }

    @Test
    void theIteratorYieldsMessagesAndEndsWhenClosed() throws InterruptedException {
        publish("iter", 3);
        Subscription s = client.subscribe(earliest("iter", "g").withCreditWindow(1));
        var seen = new ArrayList<String>();
        var done = new CountDownLatch(1);
        Thread reader = Thread.ofVirtual().start(() -> {
            for (Message m : s) {
                seen.add(m.payloadText());
                if (seen.size() == 3) {
                    done.countDown();
                }
            }
        });
        assertTrue(done.await(WAIT.toSeconds(), TimeUnit.SECONDS));
        s.close();
        assertTrue(reader.join(WAIT));
        assertEquals(List.of("iter-0", "iter-1", "iter-2"), seen);
        assertFalse(s.isOpen());
        assertThrows(IllegalStateException.class, s::receive);
    }

    @Test
    void receiveWithATimeoutAnswersEmptyWhenNothingComes() throws InterruptedException {
        // From the earliest: a subscription whose stream opens only after the publish (a loaded machine)
        // still gets the message, where one starting at the latest would skip it.
        try (Subscription s = client.subscribe(earliest("quiet", "quiet"))) {
            assertTrue(s.receive(Duration.ofMillis(50)).isEmpty());
            Published p = client.publish("quiet", "late".getBytes(UTF_8));
            assertEquals(p.id(), next(s).id());
        }
    }

    @Test
    void ackedMessagesAreNotDeliveredAgainAndUnackedOnesComeBackMarked() throws InterruptedException {
        List<Published> sent = publish("acks", 5);
        try (Subscription s = client.subscribe(earliest("acks", "g").withCreditWindow(2))) {
            next(s);
            s.ack(next(s));                            // cumulative: the first two
            assertEquals(sent.get(2).sequence(), next(s).sequence());   // delivered, never acked
        }
        assertEquals(sent.get(1).sequence(), cursorOf("acks", "g"));
        try (Subscription s = client.subscribe(earliest("acks", "g"))) {
            Message again = next(s);
            assertEquals(sent.get(2).sequence(), again.sequence());
            assertTrue(again.isRedelivery());
            assertEquals(2, again.deliveryCount());
        }
    }

    @Test
    void aMessageOfAnotherSubscriptionIsRefusedAndTheOwnAcksGoOn() throws InterruptedException {
        List<Published> mine = publish("own", 3);
        publish("other", 5);
        try (Subscription s = client.subscribe(earliest("own", "g"));
             Subscription other = client.subscribe(SubscriptionOptions.of("other").browsing().from(Position.EARLIEST))) {
            next(s);
            s.ack(next(s));
            Message foreign = next(other);
            var refused = assertThrows(IllegalArgumentException.class, () -> s.ack(foreign));
            assertTrue(refused.getMessage().contains("not received by this subscription"), refused.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.nack(foreign, Duration.ZERO));
        }
        assertEquals(mine.get(1).sequence(), cursorOf("own", "g"), "the batched own ack was sent");
    }

    @Test
    void aClosedClientRefusesNewSubscriptionsAtOnce() {
        client.close();
        var e = assertThrows(SluiceClientException.Unavailable.class, () -> client.subscribe(earliest("late", "g")));
        assertTrue(e.getMessage().contains("the client is closed"), e.getMessage());
    }

    @Test
    void nackRedeliversOnTheSameStreamWithAHigherCount() throws InterruptedException {
        List<Published> sent = publish("nacks", 3);
        try (Subscription s = client.subscribe(earliest("nacks", "g").withCreditWindow(8))) {
            Message first = next(s);
            s.nack(first, Duration.ofMillis(10));
            var later = new ArrayList<Message>();
            for (int i = 0; i < 3; i++) {
                later.add(next(s));
            }
            Message redelivered = later.stream().filter(m -> m.id().equals(first.id())).findFirst().orElseThrow();
            assertEquals(2, redelivered.deliveryCount());
            assertEquals(sent.stream().map(Published::id).toList().subList(1, 3),
                    later.stream().filter(m -> !m.id().equals(first.id())).map(Message::id).toList());
        }
    }

    @Test
    void aSecondSubscriptionOfTheGroupTakesOverAndTheFirstFailsTyped() throws InterruptedException {
        publish("shared", 1);
        Subscription first = client.subscribe(earliest("shared", "g"));
        next(first);
        try (Subscription second = client.subscribe(earliest("shared", "g"))) {
            var e = assertThrows(SluiceClientException.TakenOver.class, first::receive);
            assertEquals(io.grpc.Status.Code.ABORTED, e.code());
            assertFalse(first.isOpen());
            assertEquals(2, next(second).deliveryCount());
        } finally {
            first.close();
        }
    }

    @Test
    void deletingTheTopicEndsItsSubscriptionWithTopicDeleted() throws InterruptedException {
        publish("doomed", 1);
        try (Subscription s = client.subscribe(earliest("doomed", "g"))) {
            next(s);
            assertTrue(client.deleteTopic("doomed"));
            var e = assertThrows(SluiceClientException.NotFound.class, s::receive);
            assertInstanceOf(SluiceClientException.TopicDeleted.class, e);
        }
    }

    @Test
    void aBadTopicNameFailsTheFirstReceiveWithInvalidArgument() throws InterruptedException {
        try (Subscription s = client.subscribe(SubscriptionOptions.of("bad topic"))) {
            var e = assertThrows(SluiceClientException.InvalidArgument.class, s::receive);
            assertTrue(e.getMessage().startsWith("INVALID_ARGUMENT: topic name \"bad topic\""), e.getMessage());
            assertEquals(0, s.reconnects());
        }
    }

    @Test
    void browsingReadsFromItsOffsetWithoutTouchingTheCursor() throws InterruptedException {
        List<Published> sent = publish("browse", 4);
        client.resetCursor("browse", "g", sent.get(0).sequence());
        try (Subscription s = client.subscribe(SubscriptionOptions.of("browse").fromOffset(sent.get(2).sequence())
                .browsing())) {
            Message m = next(s);
            assertEquals(sent.get(2).sequence(), m.sequence());
            assertThrows(IllegalStateException.class, () -> s.ack(m));
            assertThrows(IllegalStateException.class, () -> s.nack(m, Duration.ZERO));   // no group to settle in
            assertThrows(IllegalStateException.class, () -> s.term(m, "no"));
            assertEquals(sent.get(3).sequence(), next(s).sequence());
        }
        assertEquals(sent.get(0).sequence(), cursorOf("browse", "g"));
    }

    @Test
    void resetCursorRepositionsAnOpenSubscription() throws InterruptedException {
        List<Published> sent = publish("rewind", 3);
        try (Subscription s = client.subscribe(earliest("rewind", "g").withCreditWindow(1))) {
            for (int i = 0; i < 3; i++) {
                s.ack(next(s));
            }
            client.resetCursor("rewind", "g", sent.get(0).sequence());
            Message again = next(s);
            assertEquals(sent.get(1).sequence(), again.sequence());
            s.ack(again);
            s.ack(next(s));
        }
        assertEquals(sent.get(2).sequence(), cursorOf("rewind", "g"));
    }

    @Test
    void aReceiverBlockedInAnotherThreadWakesOnClose() throws InterruptedException {
        Subscription s = client.subscribe(SubscriptionOptions.of("idle"));
        var thrown = new AtomicReference<Throwable>();
        var started = new CountDownLatch(1);
        Thread reader = Thread.ofVirtual().start(() -> {
            started.countDown();
            try {
                s.receive();
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        assertTrue(started.await(WAIT.toSeconds(), TimeUnit.SECONDS));
        s.close();
        assertTrue(reader.join(WAIT));
        assertInstanceOf(IllegalStateException.class, thrown.get());
    }

    @Test
    void closingTheClientClosesItsSubscriptions() throws InterruptedException {
        var other = SluiceClient.connect(client.target());
        Subscription s = other.subscribe(SubscriptionOptions.of("closing").withGroup("g"));
        other.close();
        assertFalse(s.isOpen());
        assertThrows(IllegalStateException.class, () -> s.receive(Duration.ofSeconds(1)));
        client.publish("closing", "x".getBytes(UTF_8), Map.of());
    }

    // ---- shared subscriptions and group settings ----

    private TopicStats.GroupStats group(String topic, String name) {
        return client.stats(topic).getFirst().groups().stream().filter(g -> g.group().equals(name)).findFirst()
                .orElseThrow();
    }

    @Test
    void twoSharedSubscriptionsSplitTheWorkAndAcksSettleEachMessage() throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            client.publish("tasks", ("task-" + i).getBytes());
        }
        var options = SubscriptionOptions.of("tasks").withGroup("workers").from(Position.EARLIEST)
                .withCreditWindow(8);
        Set<Long> seen = new HashSet<>();
        try (Subscription a = client.subscribeShared(options); Subscription b = client.subscribeShared(options)) {
            assertTrue(a.isShared());
            while (seen.size() < 200) {
                for (Subscription s : List.of(a, b)) {
                    var m = s.receive(Duration.ofMillis(50));
                    if (m.isPresent()) {
                        assertTrue(seen.add(m.get().sequence()), "each message once: " + m.get().sequence());
                        s.ack(m.get());
                    }
                }
            }
            // Acks go in batches, the last within 20 ms; an ack still in the client when it closes is lost
            // with the stream and its message comes again (at-least-once), so this waits while open.
            Await.until("every message settled", () -> group("tasks", "workers").pending() == 0,
                    () -> group("tasks", "workers"));
        }
    }

    @Test
    void configureGroupSetsTheDeadLetterTopicAndTermMovesAMessageThere() throws InterruptedException {
        GroupSettings set = client.configureGroup("mail", "senders", true,
                GroupSettings.defaults().withDeadLetters("mail.dlq", 3).withAckWait(Duration.ofSeconds(5)));
        assertEquals("mail.dlq", set.deadLetterTopic());
        assertEquals(3, set.maxDeliveries());
        var refused = assertThrows(SluiceClientException.class, () -> client.configureGroup("mail", "senders", false,
                GroupSettings.defaults()));
        assertTrue(refused.getMessage().contains("SHARED"), refused.getMessage());
        // a duration the protocol cannot carry is refused, not cut to what it can
        var tooLong = assertThrows(IllegalArgumentException.class,
                () -> GroupSettings.defaults().withAckWait(Duration.ofDays(50)));
        assertTrue(tooLong.getMessage().contains("4294967295 ms"), tooLong.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> GroupSettings.defaults().withBackoff(java.util.List.of(Duration.ofSeconds(-1))));

        client.publish("mail", "bounce".getBytes());
        // The dead letter is read while the shared subscription is open: a term still in the client when its
        // stream closes is lost with it (the message then comes again to the group).
        try (Subscription s = client.subscribeShared(SubscriptionOptions.of("mail").withGroup("senders"));
             Subscription dlq = client.subscribe(SubscriptionOptions.of("mail.dlq").from(Position.EARLIEST)
                     .browsing())) {
            Message m = next(s);
            s.inProgress(m);
            s.term(m, "mailbox gone");
            Message dead = next(dlq);
            assertEquals("bounce", dead.payloadText());
            assertEquals("rejected", dead.attributes().get("sluice.dlq.reason"));
            assertEquals("mailbox gone", dead.attributes().get("sluice.dlq.detail"));
        }
    }
}
