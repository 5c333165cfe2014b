package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Producers that retry every publish until it is answered, with its dedup id, across kill -9 of
 * the broker (the jar, as a child process): each dedup id is stored exactly once, and a retry of a
 * publish that was stored before the kill (its answer lost) is answered with the stored message.
 */
@org.junit.jupiter.api.extension.ExtendWith(Figures.class)
class DedupKillIT {
    private static final int PRODUCERS = 8;
    private static final String TOPIC = "idempotent";

    @TempDir
    Path dir;

    @RegisterExtension
    final Children children = new Children(() -> dir);

    /** One producer's state across incarnations: the key it is publishing until answered. */
    private static final class Producer {
        final int id;
        int next;
        String pending;

        Producer(int id) {
            this.id = id;
        }

        String current() {
            if (pending == null) {
                pending = "p" + id + "-" + next++;
            }
            return pending;
        }
    }

    @Test
    void everyDedupIdIsStoredOnceWhateverTheKills() throws Exception {
        Path data = dir.resolve("data");
        int cycles = Figures.scaled(4, 40);
        var answered = new ConcurrentHashMap<String, PublishResponse>();
        var duplicates = new AtomicInteger();
        var producers = new ArrayList<Producer>();
        for (int p = 0; p < PRODUCERS; p++) {
            producers.add(new Producer(p));
        }
        for (int cycle = 0; cycle < cycles; cycle++) {
            BrokerProcess child = children.serve(data);
            ManagedChannel channel = child.channel();
            var stop = new AtomicBoolean();
            int before = answered.size();
            var threads = new ArrayList<Thread>();
            for (Producer p : producers) {
                var stub = SluiceGrpc.newBlockingStub(channel);
                threads.add(Thread.ofVirtual().start(() -> {
                    while (!stop.get()) {
                        String key = p.current();
                        try {
                            PublishResponse r = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                                    .publish(PublishRequest.newBuilder().setTopic(TOPIC).setDedupId(key)
                                            .setPayload(ByteString.copyFromUtf8(key)).build());
                            if (r.getDuplicate()) {
                                duplicates.incrementAndGet();
                            }
                            answered.put(key, r);
                            p.pending = null;
                        } catch (StatusRuntimeException e) {
                            if (!child.process.isAlive() || stop.get()) {
                                return;   // the kill: the key stays pending for the next incarnation
                            }
                        }
                    }
                }));
            }
            Await.until("publishes are answered in cycle " + cycle, () -> answered.size() >= before + 200);
            child.process.destroyForcibly();   // SIGKILL with publishes in flight
            assertTrue(child.process.waitFor(30, TimeUnit.SECONDS));
            stop.set(true);
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
            channel.shutdownNow();
        }
        // The last incarnation answers every pending retry, then everything is read back.
        BrokerProcess last = children.serve(data);
        var stub = SluiceGrpc.newBlockingStub(last.channel());
        for (Producer p : producers) {
            if (p.pending != null) {
                PublishResponse r = stub.publish(PublishRequest.newBuilder().setTopic(TOPIC).setDedupId(p.pending)
                        .setPayload(ByteString.copyFromUtf8(p.pending)).build());
                if (r.getDuplicate()) {
                    duplicates.incrementAndGet();
                }
                answered.put(p.pending, r);
            }
        }
        assertEquals(0, last.terminate(java.time.Duration.ofSeconds(30)));
        List<Ledger.Seen> stored = Contents.ofDataDir(data).getOrDefault(TOPIC, List.of());
        Map<String, Ledger.Seen> byKey = new HashMap<>();
        for (Ledger.Seen s : stored) {
            Ledger.Seen twice = byKey.put(s.payload().toStringUtf8(), s);
            assertEquals(null, twice, "dedup id " + s.payload().toStringUtf8() + " stored twice");
        }
        assertEquals(answered.keySet(), byKey.keySet(), "every answered publish is stored, nothing else");
        answered.forEach((key, r) -> {
            assertEquals(byKey.get(key).sequence(), r.getSequence(), key + " answered its stored sequence");
            assertEquals(byKey.get(key).id(), r.getMessageId(), key + " answered its stored id");
        });
        System.out.printf("DedupKillIT: %d kill -9 cycles, %d producers retrying until answered: %d dedup ids stored "
                + "once each, %d retries answered as duplicates of a message stored before the kill%n",
                cycles, PRODUCERS, stored.size(), duplicates.get());
        Figures.row("crash: SIGKILL, retried dedup publishes").cycles(cycles).acknowledged(answered.size()).lost(0);
    }
}
