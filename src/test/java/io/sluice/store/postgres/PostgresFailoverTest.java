package io.sluice.store.postgres;

import static io.sluice.store.Stored.message;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Outcome;
import io.sluice.store.Store;
import io.sluice.store.StoreOptions;
import io.sluice.store.WhenFull;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Failover without loss: a primary with a synchronous standby (streaming replication set up with
 * pg_basebackup), the stores of two brokers on a multi-host URL, publishers running. The primary
 * is killed (SIGKILL) and the standby promoted: the stores reconnect to it by themselves, and every
 * acknowledged message is on the new primary. The outage the publishers saw is printed, not asserted.
 */
class PostgresFailoverTest {
    @Test
    void killingThePrimaryAndPromotingItsSynchronousStandbyLosesNothingAcknowledged() throws Exception {
        try (PostgresServer primary = PostgresServer.startPrivate()) {
            String schema = primary.freshSchema();
            try (PostgresServer standby = primary.startStandby()) {
                primary.requireSynchronousStandby();
                String url = "postgresql://" + PostgresServer.USER + "@127.0.0.1:" + primary.port() + ",127.0.0.1:"
                        + standby.port() + "/" + PostgresServer.DATABASE + "?currentSchema=" + schema;
                var brokers = List.<Store>of(open(url), open(url));
                try {
                    run(primary, standby, brokers, schema);
                } finally {
                    brokers.forEach(Store::close);
                }
            }
        }
    }

    private static Store open(String url) {
        return PostgresStore.open(DatabaseUrl.parse(url, PostgresServer.PASSWORD, null), StoreOptions.defaults(),
                (ops, messages, nanos) -> { });
    }

    private static void run(PostgresServer primary, PostgresServer standby, List<Store> brokers, String schema)
            throws Exception {
        var acked = new ConcurrentHashMap<Long, String>();
        var unexpected = new ConcurrentLinkedQueue<Throwable>();
        var stop = new AtomicBoolean();
        var killedAt = new AtomicLong();
        var ackedAfterKill = new AtomicInteger();
        var ackTimes = new ConcurrentLinkedQueue<Long>();
        var publishers = new ArrayList<Thread>();
        for (int p = 0; p < 4; p++) {
            Store store = brokers.get(p % 2);
            int id = p;
            publishers.add(Thread.ofPlatform().name("publisher-" + p).start(() -> {
                for (int n = 0; !stop.get(); n++) {
                    String payload = "p" + id + "-" + n;
                    var o = new Outcome<List<Appended>>();
                    store.append("orders", List.of(message(payload)), WhenFull.WAIT, o);
                    if (!o.await(Outcome.WAIT)) {
                        unexpected.add(new AssertionError("an append was never answered"));
                        return;
                    }
                    long now = System.nanoTime();
                    if (o.failure() == null) {
                        acked.put(o.result().getFirst().sequence(), payload);
                        ackTimes.add(now);
                        if (killedAt.get() != 0) {
                            ackedAfterKill.incrementAndGet();
                        }
                    } else if (!(o.failure() instanceof SluiceException.Unavailable)) {
                        unexpected.add(o.failure());
                    }
                }
            }));
        }
        Await.until("publishers are acknowledged before the failover", () -> acked.size() >= 300, acked::size);
        killedAt.set(System.nanoTime());
        primary.kill();
        standby.promote();
        long promotedAt = System.nanoTime();
        Await.until("both brokers write again on the promoted standby", () -> ackedAfterKill.get() >= 200,
                ackedAfterKill::get);
        stop.set(true);
        for (Thread t : publishers) {
            assertTrue(t.join(Outcome.WAIT), t.getName() + " stopped");
        }
        assertTrue(unexpected.isEmpty(), "failures other than UNAVAILABLE: " + unexpected);

        Map<Long, String> stored = new ConcurrentHashMap<>();
        try (Connection c = standby.connectToDatabase();
             PreparedStatement st = c.prepareStatement("SELECT seq, payload FROM " + schema + ".messages");
             ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                stored.put(rs.getLong(1), new String(rs.getBytes(2), java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        acked.forEach((seq, payload) -> assertEquals(payload, stored.get(seq), "acknowledged message " + seq));
        long highest = acked.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
        for (Store b : brokers) {
            assertTrue(b.lastSequence("orders") >= highest, "each broker reads from the new primary");
        }
        // The outage: the longest time without any acknowledgement, from the kill on (an append
        // committed just before the kill may be answered just after it).
        long longest = 0;
        long previous = killedAt.get();
        for (long t : ackTimes.stream().sorted().toList()) {
            if (t > previous) {
                longest = Math.max(longest, t - previous);
                previous = t;
            }
        }
        System.out.printf("failover: %d acknowledged, all on the promoted standby; publishers saw no "
                + "acknowledgement for %.2f s (the longest gap from the kill on; the promotion returned %.2f s after "
                + "the kill)%n", acked.size(), longest / 1e9, (promotedAt - killedAt.get()) / 1e9);
    }
}
