package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.server.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client's shared subscriptions and group settings against a real broker. */
class ClientSharedTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

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

    private Message next(Subscription s) throws InterruptedException {
        return s.receive(WAIT).orElseThrow(() -> new AssertionError("no message within " + WAIT));
    }

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
