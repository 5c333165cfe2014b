package io.sluice.store.postgres;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.BrokerProcess;
import io.sluice.client.Message;
import io.sluice.client.OutboundMessage;
import io.sluice.client.Published;
import io.sluice.client.SluiceClient;
import io.sluice.client.SluiceClientException;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import io.sluice.client.SubscriptionOptions.Position;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three broker processes (the built jar) on one PostgreSQL schema, the password from a file:
 * publishers on every broker, a consumer group on every broker; mid-load a stream on broker C takes
 * broker A's group over (A's stream ends TAKEN_OVER), then kill -9 of broker B, whose group moves to
 * broker A. Every acknowledged message reaches every group, in order within each stream.
 */
class PostgresMultiBrokerIT {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void threeBrokersOnOneDatabaseDeliverEveryAcknowledgedMessageToEveryGroupThroughATakeoverAndAKill()
            throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        Path passwordFile = Files.writeString(dir.resolve("db-password"), PostgresServer.PASSWORD + "\n");
        var brokers = new ArrayList<BrokerProcess>();
        var closing = new ArrayList<AutoCloseable>();
        try {
            for (int b = 0; b < 3; b++) {
                brokers.add(BrokerProcess.serve(dir, dir.resolve("unused-" + b), List.of("--database-url",
                        server.url(schema), "--database-password-file", passwordFile.toString())));
            }
            var clients = new ArrayList<SluiceClient>();
            for (BrokerProcess b : brokers) {
                SluiceClient c = SluiceClient.connect("127.0.0.1:" + b.port());
                clients.add(c);
                closing.add(c);
            }
            var acked = ConcurrentHashMap.<Long>newKeySet();
            var stop = new AtomicBoolean();
            var publishers = new ArrayList<Thread>();
            for (int p = 0; p < 3; p++) {
                SluiceClient c = clients.get(p);
                int id = p;
                publishers.add(Thread.ofPlatform().name("publisher-" + p).start(() -> {
                    for (int n = 0; !stop.get(); n++) {
                        try {
                            List<Published> sent = c.publishBatch("orders",
                                    List.of(OutboundMessage.of("p" + id + "-" + n + "a"), OutboundMessage.of("p" + id + "-" + n + "b")));
                            sent.forEach(s -> acked.add(s.sequence()));
                        } catch (RuntimeException e) {
                            return;   // its broker was killed: what it had acknowledged must still arrive
                        }
                    }
                }));
            }
            var received = new ArrayList<Set<Long>>();
            var disorder = new ConcurrentLinkedQueue<String>();
            var endings = new ConcurrentHashMap<String, RuntimeException>();
            var consumers = new ArrayList<Thread>();
            var sessions = new ArrayList<Subscription>();
            for (int g = 0; g < 3; g++) {
                received.add(ConcurrentHashMap.newKeySet());
                Subscription s = clients.get(g).subscribe(group(g));
                sessions.add(s);
                consumers.add(consume(s, received.get(g), disorder, endings, "group " + g + " on broker " + g));
            }
            Await.until("load runs on all three brokers", () -> acked.size() >= 300, acked::size);

            // A stream of group 0 on broker 2 takes the group over from the stream on broker 0.
            Subscription takeover = clients.get(2).subscribe(group(0));
            closing.add(takeover::close);
            consumers.add(consume(takeover, received.get(0), disorder, endings, "group 0 taken over on broker 2"));
            assertTrue(consumers.get(0).join(WAIT), "the stream on broker 0 ended");
            assertInstanceOf(SluiceClientException.TakenOver.class, endings.get("group 0 on broker 0"),
                    "broker 0's stream ended as taken over: " + endings);
            int afterTakeover = acked.size();
            Await.until("the load goes on after the takeover", () -> acked.size() >= afterTakeover + 150, acked::size);

            brokers.get(1).kill();
            sessions.get(1).close();
            consumers.get(1).join(WAIT.toMillis());
            Subscription moved = clients.get(0).subscribe(group(1));
            closing.add(moved::close);
            consumers.add(consume(moved, received.get(1), disorder, endings, "group 1 moved to broker 0"));
            int afterKill = acked.size();
            Await.until("the two surviving brokers go on", () -> acked.size() >= afterKill + 150, acked::size);
            stop.set(true);
            for (Thread t : publishers) {
                assertTrue(t.join(WAIT), t.getName() + " stopped");
            }
            for (int g = 0; g < 3; g++) {
                Set<Long> got = received.get(g);
                Await.until("group " + g + " received every acknowledged message", () -> got.containsAll(acked),
                        () -> "(" + acked.stream().filter(s -> !got.contains(s)).count() + " missing)");
            }
            assertTrue(disorder.isEmpty(), "deliveries out of order: " + disorder);
            sessions.get(2).close();
        } finally {
            for (AutoCloseable c : closing) {
                c.close();
            }
            for (BrokerProcess b : brokers) {
                b.kill();
            }
        }
    }

    private static SubscriptionOptions group(int g) {
        return SubscriptionOptions.of("orders").withGroup("g" + g).from(Position.EARLIEST);
    }

    /**
     * Receives and acks until the subscription is closed or fails (the failure is kept in {@code
     * endings}); a new message below the last one is disorder.
     */
    private static Thread consume(Subscription s, Set<Long> into, ConcurrentLinkedQueue<String> disorder,
                                  Map<String, RuntimeException> endings, String who) {
        return Thread.ofPlatform().name("consumer " + who).start(() -> {
            long last = 0;
            try {
                while (true) {
                    var next = s.receive(Duration.ofMillis(200));
                    if (next.isEmpty()) {
                        if (!s.isOpen()) {
                            // Ended: what is still buffered is taken; then receive throws what ended it.
                            var left = s.receive(Duration.ZERO);
                            while (left.isPresent()) {
                                into.add(left.get().sequence());
                                left = s.receive(Duration.ZERO);
                            }
                            return;
                        }
                        continue;
                    }
                    Message m = next.get();
                    if (m.sequence() <= last && !m.isRedelivery()) {
                        disorder.add(who + ": " + m.sequence() + " after " + last);
                    }
                    last = Math.max(last, m.sequence());
                    into.add(m.sequence());
                    s.ack(m);
                }
            } catch (RuntimeException e) {
                endings.put(who, e);   // taken over, or its broker was killed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }
}
