package io.sluice.store.postgres;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.BrokerProcess;
import io.sluice.client.Message;
import io.sluice.client.OutboundMessage;
import io.sluice.client.Published;
import io.sluice.client.SluiceClient;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import io.sluice.client.SubscriptionOptions.Position;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three broker processes (the built jar) on one PostgreSQL schema, the password from a file:
 * publishers on every broker, a consumer group on every broker, then kill -9 of one broker
 * mid-load; its group moves to another broker. Every acknowledged message reaches every group,
 * in order within each stream.
 */
class PostgresMultiBrokerIT {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void threeBrokersOnOneDatabaseDeliverEveryAcknowledgedMessageToEveryGroupThroughAKill() throws Exception {
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
            var consumers = new ArrayList<Thread>();
            var sessions = new ArrayList<Subscription>();
            for (int g = 0; g < 3; g++) {
                received.add(ConcurrentHashMap.newKeySet());
                Subscription s = clients.get(g).subscribe(group(g));
                sessions.add(s);
                consumers.add(consume(s, received.get(g), disorder, "group " + g + " on broker " + g));
            }
            Await.until("load runs on all three brokers", () -> acked.size() >= 300, acked::size);
            brokers.get(2).kill();
            sessions.get(2).close();
            consumers.get(2).join(WAIT.toMillis());
            Subscription moved = clients.get(0).subscribe(group(2));
            closing.add(moved::close);
            consumers.add(consume(moved, received.get(2), disorder, "group 2 moved to broker 0"));
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
            for (int g = 0; g < 2; g++) {
                sessions.get(g).close();
            }
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

    /** Receives and acks until the subscription is closed; a new message below the last one is disorder. */
    private static Thread consume(Subscription s, Set<Long> into, ConcurrentLinkedQueue<String> disorder, String who) {
        return Thread.ofPlatform().name("consumer " + who).start(() -> {
            long last = 0;
            try {
                while (true) {
                    var next = s.receive(Duration.ofMillis(200));
                    if (next.isEmpty()) {
                        if (!s.isOpen()) {
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
            } catch (InterruptedException | RuntimeException e) {
                // the subscription was closed under it
            }
        });
    }
}
