package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.server.TestBroker;
import io.sluice.telemetry.MetricsScrape;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Subscription across a broker restart on the same port and data, and when no broker comes back. */
class ClientReconnectTest {
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

    @Test
    void aCallRightAfterTheBrokerIsBackReachesIt() {
        client.topics();
        broker.restartOnSamePort(() -> {
            for (int i = 0; i < 3; i++) {   // each failure leaves the channel waiting out a backoff
                assertThrows(SluiceClientException.Unavailable.class, client::topics);
            }
        });
        client.topics();   // not the last failure again: the channel tries the broker at once
    }

    private List<Published> publish(SluiceClient via, String topic, int n, String prefix) {
        var batch = new ArrayList<OutboundMessage>();
        for (int i = 0; i < n; i++) {
            batch.add(OutboundMessage.of(prefix + i));
        }
        return via.publishBatch(topic, batch);
    }

    private static Message next(Subscription s) throws InterruptedException {
        return s.receive(WAIT).orElseThrow(() -> new AssertionError("no message within " + WAIT));
    }

    private long cursorOf(String topic, String group) {
        return client.stats(topic).getFirst().groups().stream().filter(g -> g.group().equals(group))
                .mapToLong(TopicStats.GroupStats::cursor).findFirst().orElse(-1);
    }

    /** Waits (with a deadline) until the group's committed cursor reaches {@code sequence}. */
    private void awaitCursor(String topic, String group, long sequence) throws InterruptedException {
        Await.until("the cursor of " + group + " reaches " + sequence, () -> cursorOf(topic, group) >= sequence,
                () -> cursorOf(topic, group));
    }

    private static void record(Map<Long, List<Integer>> counts, Message m) {
        counts.computeIfAbsent(m.sequence(), k -> new ArrayList<>()).add(m.deliveryCount());
    }

    private static SubscriptionOptions resilient(String topic, String group) {
        return SubscriptionOptions.of(topic).withGroup(group).from(Position.EARLIEST)
                .withCreditWindow(8).withBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .withReconnectFor(Duration.ofSeconds(30));
    }

    /**
     * Handles 100 of the messages, acknowledging only the first 90, and waits until that ack is
     * committed; messages 91-100 stay delivered but unacknowledged.
     */
    private void handleHundredAckNinety(Subscription s, List<Published> sent, Map<Long, List<Integer>> counts,
                                        String topic, String group) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            Message m = next(s);
            assertEquals(sent.get(i).sequence(), m.sequence());
            record(counts, m);
            if (i == 89) {
                s.ack(m);
            }
        }
        awaitCursor(topic, group, sent.get(89).sequence());
    }

    /**
     * Receives, acknowledging nothing, until the unacknowledged message at {@code sequence} comes
     * again. Messages handed out before the client saw its stream end may come first; acking one
     * of them would (acks are cumulative) settle the unacknowledged ones before their redelivery.
     */
    private static void awaitRedelivery(Subscription s, long sequence, Map<Long, List<Integer>> counts)
            throws InterruptedException {
        Message m;
        do {
            m = next(s);
            record(counts, m);
        } while (m.sequence() != sequence);
    }

    /** Receives and acknowledges until {@code last} has come. */
    private static void drainTo(Subscription s, long last, Map<Long, List<Integer>> counts)
            throws InterruptedException {
        long highest = 0;
        while (highest < last) {
            Message m = next(s);
            record(counts, m);
            highest = Math.max(highest, m.sequence());
            s.ack(m);
        }
    }

    /**
     * Messages whose ack was committed came once; the unacknowledged 91-100 came again; every other
     * message came at least once (an ack on a stream that was breaking may be lost: at-least-once).
     */
    private static void assertNothingLostAndAckedNotRedelivered(List<Published> sent,
                                                                Map<Long, List<Integer>> counts) {
        for (int i = 0; i < sent.size(); i++) {
            List<Integer> seen = counts.getOrDefault(sent.get(i).sequence(), List.of());
            if (i < 90) {
                assertEquals(1, seen.size(), "acked message " + i + " came once: " + seen);
            } else if (i < 100) {
                assertTrue(seen.size() >= 2, "unacked message " + i + " came again: " + seen);
            } else {
                assertTrue(seen.size() >= 1, "message " + i + " came: " + seen);
            }
        }
    }

    @Test
    void aSubscriptionSurvivesABrokerRestartWithoutLosingAcknowledgedMessages() throws Exception {
        List<Published> sent = new ArrayList<>(publish(client, "orders", 200, "before-"));
        Map<Long, List<Integer>> counts = new HashMap<>();
        try (Subscription s = client.subscribe(resilient("orders", "billing"))) {
            handleHundredAckNinety(s, sent, counts, "orders", "billing");

            broker.restartOnSamePort();   // the stream ends with SHUTTING_DOWN; the port refuses meanwhile
            try (var producer = SluiceClient.connect(client.target())) {
                sent.addAll(publish(producer, "orders", 100, "after-"));
            }
            awaitRedelivery(s, sent.get(90).sequence(), counts);
            drainTo(s, sent.getLast().sequence(), counts);
            assertTrue(s.reconnects() >= 1, "the subscription reconnected");
        }

        var expected = new TreeSet<Long>();
        sent.forEach(p -> expected.add(p.sequence()));
        assertEquals(expected, new TreeSet<>(counts.keySet()), "every stored message was received");
        assertNothingLostAndAckedNotRedelivered(sent, counts);
        assertEquals(sent.getLast().sequence(), cursorOf("orders", "billing"));
        assertEquals(0, client.stats("orders").getFirst().groups().getFirst().pending());
    }

    @Test
    void redeliveriesAfterABrokerRestartAreMarked() throws Exception {
        List<Published> sent = publish(client, "orders", 80, "m-");
        try (Subscription s = client.subscribe(resilient("orders", "billing").withCreditWindow(4))) {
            for (int i = 0; i < sent.size(); i++) {
                assertEquals(1, next(s).deliveryCount());   // handled, never acknowledged
            }
            broker.restartOnSamePort();
            var unmarked = new ArrayList<Long>();
            for (int i = 0; i < sent.size(); i++) {
                Message m = next(s);
                if (m.deliveryCount() < 2) {
                    unmarked.add(m.sequence());
                }
            }
            assertEquals(List.of(), unmarked, "delivered before the restart, redelivered with delivery_count 1");
        }
    }

    @Test
    void aSubscriptionSurvivesALostConnectionAndRedeliveriesAreMarked() throws Exception {
        try (var proxy = new TcpProxy(broker.port());
             var viaProxy = SluiceClient.connect("127.0.0.1:" + proxy.port())) {
            List<Published> sent = new ArrayList<>(publish(client, "events", 150, "m-"));
            Map<Long, List<Integer>> counts = new HashMap<>();
            try (Subscription s = viaProxy.subscribe(resilient("events", "g"))) {
                handleHundredAckNinety(s, sent, counts, "events", "g");

                proxy.cutAll();   // the broker keeps running; only the connection is gone
                awaitRedelivery(s, sent.get(90).sequence(), counts);
                drainTo(s, sent.getLast().sequence(), counts);
                assertTrue(s.reconnects() >= 1, "the subscription reconnected");
            }
            assertNothingLostAndAckedNotRedelivered(sent, counts);
            counts.forEach((sequence, seen) -> {
                for (int k = 1; k < seen.size(); k++) {
                    assertTrue(seen.get(k) > seen.get(k - 1), "each redelivery of " + sequence + " is marked: " + seen);
                }
            });
            assertEquals(sent.getLast().sequence(), cursorOf("events", "g"));
        }
    }

    @Test
    void aSubscriptionGivesUpWithUnavailableWhenNoBrokerComesBack() throws IOException, InterruptedException {
        int port = MetricsScrape.freePort();   // nothing listens there
        try (var nowhere = SluiceClient.connect("127.0.0.1:" + port);
             Subscription s = nowhere.subscribe(SubscriptionOptions.of("orders")
                     .withBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
                     .withReconnectFor(Duration.ofMillis(300)))) {
            var e = assertThrows(SluiceClientException.Unavailable.class, () -> s.receive(WAIT));
            assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
            assertTrue(s.reconnects() >= 1, "it tried again before giving up");
        }
    }

    @Test
    void publishesMadeWhileTheBrokerIsDownWaitForItAndAreStoredInOrder() throws Exception {
        client.publish("down", "before".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        // A subscription on the same client keeps the channel's last connect failure in view.
        try (Subscription s = client.subscribe(SubscriptionOptions.of("elsewhere").withGroup("g"))) {
            var during = new ArrayList<java.util.concurrent.CompletableFuture<Published>>();
            broker.restartOnSamePort(() -> {
                for (int i = 0; i < 20; i++) {
                    during.add(client.publishAsync("down", ("during " + i).getBytes(), Map.of()));
                }
                Await.until("the client finds the broker down", () -> {
                    try {
                        client.topics();
                        return false;
                    } catch (SluiceClientException.Unavailable e) {
                        return true;
                    }
                });
                for (int i = 20; i < 40; i++) {
                    during.add(client.publishAsync("down", ("during " + i).getBytes(), Map.of()));
                }
            });
            Published after = client.publish("down", "after".getBytes());   // not the refusal seen while down
            long last = 1;
            for (var f : during) {   // never sent while the broker was down: sent on the next stream, in order
                long sequence = f.get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).sequence();
                assertTrue(sequence > last, sequence + " after " + last);
                last = sequence;
            }
            assertTrue(after.sequence() > last);
        }
    }

    @Test
    void aPublishThatNoBrokerEverAnswersFailsAtItsCallTimeoutAsNotSent() throws IOException {
        int port = MetricsScrape.freePort();   // nothing listens there
        try (var nowhere = SluiceClient.connect("127.0.0.1:" + port, Duration.ofMillis(1500))) {
            long start = System.nanoTime();
            var e = assertThrows(SluiceClientException.class, () -> nowhere.publish("orders", new byte[1]));
            assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("not sent within the call timeout: cannot reach the broker at 127.0.0.1:"
                    + port), e.getMessage());
            assertTrue(System.nanoTime() - start >= Duration.ofMillis(1400).toNanos(), "it waited for a broker");
        }
    }

    @Test
    void aPublishWhoseRetriesNeverReachedABrokerAfterItsStreamBrokeSaysItMayHaveBeenStored() throws Exception {
        try (var proxy = new TcpProxy(broker.port());
             var viaProxy = SluiceClient.connect("127.0.0.1:" + proxy.port(), WAIT,
                     PublishOptions.defaults().withRetryFor(Duration.ofMillis(300)))) {
            viaProxy.publish("doubt", new byte[1]);
            proxy.holdAnswers();
            var answer = viaProxy.publishAsync("doubt", new byte[1], Map.of());
            Await.until("the broker stored it", () -> client.stats("doubt").getFirst().totalMessages() == 2);
            proxy.refuseNew();
            proxy.cutAll();   // its answer is lost; every retry finds the port closed
            var e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> answer.get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof SluiceClientException.Unavailable, e.getCause().toString());
            String message = e.getCause().getMessage();
            assertTrue(message.contains("the message may have been stored"), message);
        }
    }
}
