package io.sluice.store.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.Await;
import io.sluice.Cursors;
import io.sluice.client.GroupSettings;
import io.sluice.client.Message;
import io.sluice.client.OutboundMessage;
import io.sluice.client.Published;
import io.sluice.client.SluiceClient;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.client.TopicStats;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import io.sluice.store.DatabaseTarget;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Brokers on PostgreSQL end to end: real gRPC clients, the real server, the JVM's shared test database. */
class PostgresBrokerTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened.reversed()) {
            c.close();
        }
    }

    private TestBroker broker(String schema, String name) {
        PostgresServer server = PostgresServer.shared();
        var url = new DatabaseTarget(server.url(schema), PostgresServer.PASSWORD);
        TestBroker b = TestBroker.start(dir.resolve(name), c -> c.withDatabase(url));
        opened.add(b);
        return b;
    }

    private StreamClient track(StreamClient s) {
        opened.add(s);
        return s;
    }

    private SluiceClient client(TestBroker b) {
        SluiceClient c = SluiceClient.connect("127.0.0.1:" + b.port());
        opened.add(c);
        return c;
    }

    private static List<OutboundMessage> batch(String prefix, int n) {
        var out = new ArrayList<OutboundMessage>();
        for (int i = 0; i < n; i++) {
            out.add(OutboundMessage.of(prefix + i));
        }
        return out;
    }

    private static Message next(Subscription s) throws InterruptedException {
        return s.receive(WAIT).orElseThrow(() -> new AssertionError("no message within " + WAIT));
    }

    @Test
    void publishSubscribeAndAckOnPostgresAndTheCursorOutlivesTheBroker() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        TestBroker broker = broker(schema, "one");
        SluiceClient client = client(broker);
        List<Published> sent = new ArrayList<>(client.publishBatch("orders", batch("b", 50)));
        for (int i = 0; i < 10; i++) {
            sent.add(client.publish("orders", ("u" + i).getBytes()));
        }
        try (Subscription s = client.subscribe(SubscriptionOptions.of("orders").withGroup("g").from(Position.EARLIEST))) {
            for (int i = 0; i < 40; i++) {
                Message m = next(s);
                assertEquals(sent.get(i).sequence(), m.sequence(), "message " + i + " in order");
                assertEquals(sent.get(i).id(), m.id());
                if (i == 39) {
                    s.ack(m);
                }
            }
            // Published while the stream is open: the broker's own commit wakes it.
            sent.add(client.publish("orders", "live".getBytes()));
        }
        broker.restart();
        SluiceClient again = client(broker);
        TopicStats stats = again.stats("orders").getFirst();
        assertEquals(61, stats.totalMessages());
        assertEquals(sent.get(39).sequence(), stats.groups().getFirst().cursor(), "the acknowledged cursor was kept");
        try (Subscription s = again.subscribe(SubscriptionOptions.of("orders").withGroup("g").from(Position.EARLIEST))) {
            for (int i = 40; i < sent.size(); i++) {
                assertEquals(sent.get(i).sequence(), next(s).sequence(), "message " + i + " after the restart");
            }
        }
    }

    @Test
    void twoBrokersOnOneDatabaseServeEachOthersCommits() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        SluiceClient a = client(broker(schema, "a"));
        SluiceClient b = client(broker(schema, "b"));
        List<Published> sent = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            sent.addAll((i % 2 == 0 ? a : b).publishBatch("shared", batch("m" + i + "-", 5)));
        }
        for (int i = 1; i < sent.size(); i++) {
            assertTrue(sent.get(i).sequence() > sent.get(i - 1).sequence(), "one order across both brokers");
        }
        assertEquals(30, b.stats("shared").getFirst().totalMessages(), "B counts what A published");
        try (Subscription s = b.subscribe(SubscriptionOptions.of("shared").withGroup("g").from(Position.EARLIEST))) {
            for (Published p : sent) {
                assertEquals(p.sequence(), next(s).sequence());
            }
        }
    }

    @Test
    void aSubscriberOnOneBrokerIsWokenByCommitsOnAnother() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        SluiceClient a = client(broker(schema, "a"));
        SluiceClient b = client(broker(schema, "b"));
        Published first = a.publish("live", "before".getBytes());
        try (Subscription s = b.subscribe(SubscriptionOptions.of("live").withGroup("g").from(Position.EARLIEST))) {
            assertEquals(first.sequence(), next(s).sequence());
            for (int i = 0; i < 5; i++) {
                Published p = a.publish("live", ("while-open-" + i).getBytes());
                Message m = next(s);
                assertEquals(p.sequence(), m.sequence(), "published on A while B's stream waited");
                assertEquals("while-open-" + i, m.payloadText());
            }
        }
    }

    @Test
    void sharedSubscriptionsOnTwoBrokersSplitTheWorkAndTermDeadLettersOnEither() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        SluiceClient a = client(broker(schema, "a"));
        SluiceClient b = client(broker(schema, "b"));
        a.configureGroup("tasks", "workers", true, GroupSettings.defaults().withDeadLetters("tasks.dlq", 5));
        for (int i = 0; i < 10; i++) {
            (i % 2 == 0 ? a : b).publishBatch("tasks", batch("t" + i + "-", 20));
        }
        var options = SubscriptionOptions.of("tasks").withGroup("workers").from(Position.EARLIEST).withCreditWindow(8);
        Set<Long> seen = new HashSet<>();
        Set<Long> onA = new HashSet<>();
        try (Subscription sa = a.subscribeShared(options); Subscription sb = b.subscribeShared(options)) {
            while (seen.size() < 200) {
                for (Subscription s : List.of(sa, sb)) {
                    var m = s.receive(Duration.ofMillis(50));
                    if (m.isPresent()) {
                        assertTrue(seen.add(m.get().sequence()), "each message once: " + m.get().sequence());
                        if (s == sa) {
                            onA.add(m.get().sequence());
                        }
                        if (m.get().payloadText().equals("t3-7")) {
                            s.term(m.get(), "bad task");
                        } else {
                            s.ack(m.get());
                        }
                    }
                }
            }
            assertTrue(!onA.isEmpty() && onA.size() < 200, "both brokers' streams took a share: " + onA.size());
            Await.until("every message settled", () -> b.stats("tasks").getFirst().groups().getFirst().pending() == 0,
                    () -> b.stats("tasks").getFirst().groups());
        }
        try (Subscription dead = a.subscribe(SubscriptionOptions.of("tasks.dlq").from(Position.EARLIEST))) {
            Message m = next(dead);
            assertEquals("t3-7", m.payloadText());
            assertEquals("rejected", m.attributes().get("sluice.dlq.reason"));
            assertEquals("bad task", m.attributes().get("sluice.dlq.detail"));
            assertEquals("workers", m.attributes().get("sluice.dlq.group"));
        }
    }

    @Test
    void aStreamOnBrokerCTakesTheGroupOverFromAStreamOnBrokerAAndTheStaleOwnersAcksAreRefused() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        TestBroker a = broker(schema, "a");
        TestBroker c = broker(schema, "c");
        SluiceClient viaA = client(a);
        List<Published> sent = new ArrayList<>(viaA.publishBatch("jobs", batch("j", 10)));
        StreamClient onA = track(StreamClient.group(a.async(), "jobs", "g", InitialPosition.EARLIEST));
        onA.credit(6);
        var gotOnA = new ArrayList<MessageDelivery>();
        for (int i = 0; i < 6; i++) {
            gotOnA.add(onA.delivery());
        }
        onA.ack(gotOnA.get(1).getMessageId());
        Cursors.await(a.blocking(), "jobs", "g", sent.get(1).sequence());

        StreamClient onC = track(StreamClient.group(c.async(), "jobs", "g", InitialPosition.EARLIEST));
        onC.credit(20);
        MessageDelivery first = onC.delivery();
        assertEquals(sent.get(2).sequence(), first.getSequence(), "C starts after the acknowledged cursor");
        assertEquals(2, first.getDeliveryCount(), "delivered on A before, not acknowledged");
        onA.ack(gotOnA.get(5).getMessageId());   // the stale owner acks after the takeover
        assertEquals("TAKEN_OVER", onA.streamError(), "A's stream ends as a local takeover ends it");
        onA.expectClosedWith(Status.Code.ABORTED);
        // A's writer commits in order: once this publish through A is answered, its stale ack was handled.
        sent.add(viaA.publish("jobs", "after".getBytes()));
        assertEquals(sent.get(1).sequence(), Cursors.of(c.blocking(), "jobs", "g"),
                "the stale owner's ack did not move the cursor");

        var rest = new ArrayList<Long>(List.of(first.getSequence()));
        MessageDelivery last = first;
        while (rest.size() < sent.size() - 2) {
            last = onC.delivery();
            rest.add(last.getSequence());
        }
        assertEquals(sent.subList(2, sent.size()).stream().map(Published::sequence).toList(), rest,
                "C delivers everything not acknowledged, in order");
        onC.ack(last.getMessageId());
        Cursors.awaitExactly(c.blocking(), "jobs", "g", sent.getLast().sequence());
    }

    @Test
    void aTopicDeletedAndACursorResetThroughOneBrokerReachTheStreamsOfAnother() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        TestBroker a = broker(schema, "a");
        TestBroker b = broker(schema, "b");
        SluiceClient viaA = client(a);
        List<Published> sent = viaA.publishBatch("doomed", batch("d", 5));
        StreamClient onB = track(StreamClient.group(b.async(), "doomed", "g", InitialPosition.EARLIEST));
        onB.credit(100);
        for (Published p : sent) {
            assertEquals(p.sequence(), onB.delivery().getSequence());
        }
        viaA.resetCursor("doomed", "g", sent.get(1).sequence());
        MessageDelivery again = onB.delivery();
        assertEquals(sent.get(2).sequence(), again.getSequence(), "B's stream continues after the reset cursor");

        assertTrue(viaA.deleteTopic("doomed"));
        assertEquals("TOPIC_DELETED", onB.untilStreamError().error().getCode());
        onB.expectClosedWith(Status.Code.NOT_FOUND);
    }

    @Test
    void aSettleThroughOneBrokerWakesASharedStreamOnAnotherThatWaitsForRoom() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        TestBroker a = broker(schema, "a");
        TestBroker b = broker(schema, "b");
        SluiceClient viaA = client(a);
        // One message in flight at a time, and a lease that would outlast the test: only the settle frees it.
        viaA.configureGroup("work", "crew", true, GroupSettings.defaults().withMaxInFlight(1)
                .withAckWait(Duration.ofMinutes(10)));
        List<Published> sent = viaA.publishBatch("work", batch("w", 2));
        var keep = ConsumerGroupConfig.getDefaultInstance();   // the group's stored settings stay
        StreamClient onA = track(StreamClient.shared(a.async(), "work", "crew", keep));
        onA.credit(1);
        MessageDelivery held = onA.delivery();
        assertEquals(sent.getFirst().sequence(), held.getSequence());
        StreamClient onB = track(StreamClient.shared(b.async(), "work", "crew", keep));
        onB.credit(1);
        // A heartbeat: B's stream asked for a lease, found the group full, and waits.
        assertTrue(onB.next().hasHeartbeat(), "B's stream idles with nothing to send");
        onA.ack(held.getMessageId());
        assertEquals(sent.get(1).sequence(), onB.delivery().getSequence(), "B's stream took the freed slot");
    }
}
