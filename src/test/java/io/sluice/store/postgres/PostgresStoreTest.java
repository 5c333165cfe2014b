package io.sluice.store.postgres;

import static io.sluice.store.Stored.append;
import static io.sluice.store.Stored.message;
import static io.sluice.store.Stored.payloads;
import static io.sluice.store.Stored.sequences;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Lease;
import io.sluice.store.LeaseBatch;
import io.sluice.store.Settled;
import io.sluice.store.StartPosition;
import io.sluice.store.NewMessage;
import io.sluice.store.Outcome;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import io.sluice.store.TopicConfig;
import io.sluice.store.StoredMessage;
import io.sluice.store.WhenFull;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the PostgreSQL backend does beyond the contract: several stores on one database, a server restart, damage. */
class PostgresStoreTest {
    @RegisterExtension
    final OpenedStores stores = new OpenedStores();

    private Store open(PostgresServer server, String schema) {
        return stores.open(server, schema);
    }

    @Test
    void storesOfSeveralBrokersOnOneDatabaseShareOneGapFreeOrder() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        Store a = open(server, schema);
        Store b = open(server, schema);
        var done = new AtomicBoolean();
        var seen = new TreeSet<Long>();
        var violations = new ConcurrentLinkedQueue<String>();
        Thread reader = Thread.ofPlatform().name("reader-on-a").start(() -> {
            long last = 0;
            while (true) {
                boolean finished = done.get();
                List<StoredMessage> page = a.read("t", last, 500);
                for (StoredMessage m : page) {
                    if (m.sequence() <= last) {
                        violations.add("read " + m.sequence() + " after " + last);
                    }
                    last = m.sequence();
                    seen.add(last);
                }
                if (finished && page.isEmpty()) {
                    return;
                }
            }
        });
        var appended = new ConcurrentLinkedQueue<Appended>();
        var writers = new ArrayList<Thread>();
        for (int w = 0; w < 8; w++) {
            Store on = w % 2 == 0 ? a : b;
            int id = w;
            writers.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                var random = new Random(id);
                for (int i = 0; i < 100; i++) {
                    var batch = new ArrayList<NewMessage>();
                    for (int k = 0, n = 1 + random.nextInt(3); k < n; k++) {
                        batch.add(message("w" + id + "-" + i + "-" + k));
                    }
                    appended.addAll(append(on, "t", batch.toArray(NewMessage[]::new)));
                }
            }));
        }
        for (Thread t : writers) {
            assertTrue(t.join(Outcome.WAIT), t.getName() + " finished");
        }
        done.set(true);
        assertTrue(reader.join(Outcome.WAIT), "the reader finished");

        assertTrue(violations.isEmpty(), "a reader on one broker never goes back: " + violations);
        List<Long> all = sequences(b.read("t", 0, 100_000));
        assertEquals(new ArrayList<>(seen), all, "the reader saw every message of both brokers: no gap filled later");
        assertEquals(appended.size(), all.size(), "every appended message is stored once");
        assertEquals(appended.stream().map(Appended::sequence).sorted().toList(), all);
        assertEquals(a.lastSequence("t"), b.lastSequence("t"), "both brokers see the same last sequence");
        // Each transaction read the topic's row as the other broker's last transaction left it.
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT count(*), count(DISTINCT m.pos), max(m.pos), max(m.seq), t.last_pos, "
                     + "t.last_seq FROM " + schema + ".messages m JOIN " + schema + ".topics t ON t.id = m.topic_id "
                     + "WHERE t.name = 't' GROUP BY t.last_pos, t.last_seq")) {
            assertTrue(rs.next());
            long count = rs.getLong(1);
            assertEquals(appended.size(), count);
            assertEquals(count, rs.getLong(2), "every message has a position of its own");
            assertEquals(count, rs.getLong(3), "positions run 1..n");
            assertEquals(count, rs.getLong(5), "the topic's last position");
            assertEquals(rs.getLong(4), rs.getLong(6), "the topic's last sequence is its highest");
        }
    }

    @Test
    void sharedLeasesOfStoresOnOneDatabaseAreNeverGivenToTwoHoldersAndAGoneStoresLeasesComeBack() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        Store a = open(server, schema);
        Store b = open(server, schema);
        int total = 600;
        var batch = new NewMessage[total];
        for (int i = 0; i < total; i++) {
            batch[i] = message("m" + i);
        }
        List<Long> seqs = append(a, "t", batch).stream().map(Appended::sequence).toList();
        var opened = new Outcome<GroupSetup>();
        a.openGroup(new GroupRequest("t", "g", GroupMode.SHARED, new GroupConfig(600_000, 0, "", 100, List.of(1L)),
                StartPosition.earliest(), false), opened);
        opened.value();

        var leased = new ConcurrentLinkedQueue<Long>();
        var failures = new ConcurrentLinkedQueue<Throwable>();
        var holders = new ArrayList<Thread>();
        for (int h = 0; h < 4; h++) {
            Store store = h % 2 == 0 ? a : b;
            String holder = (h % 2 == 0 ? "a-" : "b-") + h;
            holders.add(Thread.ofPlatform().name(holder).start(() -> {
                try {
                    while (leased.size() < total) {
                        var got = new Outcome<LeaseBatch>();
                        store.lease("t", "g", holder, 7, got);
                        List<Long> mine = got.value().leases().stream().map(Lease::sequence).toList();
                        leased.addAll(mine);
                        if (!mine.isEmpty()) {
                            var settled = new Outcome<Settled>();
                            store.settle("t", "g", holder, mine, settled);
                            assertEquals(mine.size(), settled.value().settled(), holder + " settles what it holds");
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread t : holders) {
            assertTrue(t.join(Outcome.WAIT), t.getName() + " finished");
        }
        assertTrue(failures.isEmpty(), "holders failed: " + failures);
        var sorted = new ArrayList<>(leased);
        sorted.sort(null);
        assertEquals(seqs, sorted, "every message leased exactly once across the two stores");

        List<Long> more = append(b, "t", message("x"), message("y")).stream().map(Appended::sequence).toList();
        var onB = new Outcome<LeaseBatch>();
        b.lease("t", "g", "b-held", 10, onB);
        assertEquals(more, onB.value().leases().stream().map(Lease::sequence).toList());
        var onA = new Outcome<LeaseBatch>();
        a.lease("t", "g", "a-late", 10, onA);
        assertEquals(List.of(), onA.value().leases(), "held by a stream on the other store");
        b.close();
        var back = new java.util.concurrent.atomic.AtomicReference<List<Lease>>(List.of());
        Await.until("the closed store's leases come back after their backoff", () -> {
            var again = new Outcome<LeaseBatch>();
            a.lease("t", "g", "a-late", 10, again);
            back.set(again.value().leases());
            return !back.get().isEmpty();
        });
        assertEquals(List.of(new Lease(more.get(0), 2), new Lease(more.get(1), 2)), back.get());
    }

    @Test
    void theStoreRidesThroughARestartOfTheDatabaseAnsweringUnavailableMeanwhile() throws Exception {
        try (PostgresServer server = PostgresServer.startPrivate()) {
            String schema = server.freshSchema();
            Store store = open(server, schema);
            Appended before = append(store, "t", message("before")).getFirst();
            readAtOnce(store, 16);   // every read thread holds a connection, soon stale

            server.stop();
            var during = new Outcome<List<Appended>>();
            store.append("t", List.of(message("during")), WhenFull.WAIT, during);
            var failure = assertInstanceOf(SluiceException.Unavailable.class, during.error(),
                    "a write while the database is down is refused, not answered as stored");
            assertTrue(failure.getMessage().contains("database"), failure.getMessage());
            assertThrows(SluiceException.Unavailable.class, () -> store.read("t", 0, 10));

            server.startAgain();
            var after = new ArrayList<Appended>();
            Await.until("the store writes again after the database restarted", () -> {
                var o = new Outcome<List<Appended>>();
                store.append("t", List.of(message("after")), WhenFull.WAIT, o);
                assertTrue(o.await(Outcome.WAIT), "answered");
                if (o.failure() == null) {
                    after.addAll(o.result());
                    return true;
                }
                assertInstanceOf(SluiceException.Unavailable.class, o.failure());
                return false;
            });
            // Every read thread's connection sat idle through the restart: none of them fails a read now.
            assertEquals(List.of(), readAtOnce(store, 16), "reads after the database answers again");
            assertEquals(List.of("before", "after"), payloads(store.read("t", 0, 10)));
            assertTrue(after.getFirst().sequence() > before.sequence());
        }
    }

    @Test
    void aConnectionTheDatabaseEndsIsNamedAsSuchAndTheStoreConnectsAgain() throws Exception {
        PostgresServer server = PostgresServer.shared();
        Store store = open(server, server.freshSchema());
        append(store, "t", message("before"));
        try (Connection admin = server.connectToDatabase(); Statement st = admin.createStatement()) {
            st.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice'");
        }
        try {
            store.read("t", 0, 10);   // a read thread's connection was ended too
        } catch (SluiceException.Unavailable e) {
            assertTrue(e.getMessage().contains("the database ended the broker's connection"), e.getMessage());
        }
        var during = new Outcome<List<Appended>>();
        store.append("t", List.of(message("during")), WhenFull.WAIT, during);
        assertTrue(during.await(Outcome.WAIT), "answered");
        if (during.failure() != null) {   // the writer's connection was ended: said so, not "unreachable"
            var failure = assertInstanceOf(SluiceException.Unavailable.class, during.failure());
            assertTrue(failure.getMessage().contains("terminating connection due to administrator command [57P01]"),
                    failure.getMessage());
            append(store, "t", message("after"));
        }
        assertEquals(during.failure() == null ? List.of("before", "during") : List.of("before", "after"),
                payloads(store.read("t", 0, 10)));
    }

    /** Reads {@code n} times at once (so every read thread takes some); answers the failures. */
    private static List<String> readAtOnce(Store store, int n) throws InterruptedException {
        var failures = new java.util.concurrent.ConcurrentLinkedQueue<String>();
        var threads = new ArrayList<Thread>();
        for (int i = 0; i < n; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    store.read("t", 0, 10);
                } catch (SluiceException e) {
                    failures.add(e.getMessage());
                }
            }));
        }
        for (Thread t : threads) {
            t.join(java.time.Duration.ofSeconds(60));
        }
        return List.copyOf(failures);
    }

    @Test
    void aDamagedMessageIsNeverAnsweredAndTheIntactOnesBeforeItAre() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        Store store = open(server, schema);
        List<Appended> sent = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            sent.addAll(append(store, "t", message("m" + i)));
        }
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement()) {
            st.executeUpdate("UPDATE " + schema + ".messages SET payload = 'tampered'::bytea WHERE seq = "
                    + sent.get(1).sequence());
        }

        assertEquals(List.of("m0"), payloads(store.read("t", 0, 10)), "the intact message before the damage");
        var e = assertThrows(SluiceException.Corrupted.class, () -> store.read("t", sent.get(0).sequence(), 10));
        assertTrue(e.getMessage().contains("message " + sent.get(1).sequence()), e.getMessage());
    }

    @Test
    void aDatabaseOfANewerSchemaIsRefused() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        open(server, schema).close();
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO " + schema + ".schema_migrations VALUES (999, 'from the future', 0)");
        }
        var e = assertThrows(SluiceException.class, () -> open(server, schema));
        assertTrue(e.getMessage().contains("999"), e.getMessage());
    }

    @Test
    void aSchemaHoldingAnotherApplicationsTablesIsRefusedAndLeftAsItWas() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement()) {
            st.executeUpdate("CREATE TABLE " + schema + ".topics (title text)");
            st.executeUpdate("INSERT INTO " + schema + ".topics VALUES ('theirs')");
        }
        var e = assertThrows(SluiceException.class, () -> open(server, schema));
        assertTrue(e.getMessage().contains("already holds topics") && e.getMessage().contains("currentSchema"),
                e.getMessage());
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT string_agg(table_name, ',') FROM information_schema.tables "
                     + "WHERE table_schema = '" + schema + "'")) {
            rs.next();
            assertEquals("topics", rs.getString(1), "nothing created beside their table");
        }
        assertEquals(1, rows(server, schema, "topics"));

        var missing = assertThrows(SluiceException.class, () -> open(server, schema + "_nowhere"));
        assertTrue(missing.getMessage().contains("no schema") && missing.getMessage().contains("currentSchema"),
                missing.getMessage());
    }

    @Test
    void retentionOfStoresOnOneDatabaseRemovesAndCountsEachMessageOnce() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        Store a = open(server, schema);
        Store b = open(server, schema);
        var heard = new AtomicLong();
        for (Store s : List.of(a, b)) {
            s.listen(new StoreListener() {
                @Override
                public void discarded(String topic, long removed, long unconsumed) {
                    heard.addAndGet(removed);
                }
            });
        }
        var many = new NewMessage[5_000];
        for (int i = 0; i < many.length; i++) {
            many[i] = message("m" + i);
        }
        List<Appended> sent = append(a, "big", many);
        var limited = new Outcome<ConfiguredTopic>();
        b.configureTopic("big", new TopicConfig(0, 0, 10, TopicConfig.Discard.OLD, 0), limited);
        limited.value();
        Await.until("the topic is down to its new limit, a chunk per background transaction of either store",
                () -> a.stats(List.of("big")).getFirst().totalMessages() == 10, () -> a.stats(List.of("big")));
        Await.until("each removal is told once, by the store that made it", () -> heard.get() == 4_990, heard::get);
        assertEquals(4_990, b.stats(List.of("big")).getFirst().discarded(), "counted once");
        assertEquals(sent.subList(4_990, 5_000).stream().map(Appended::sequence).toList(),
                sequences(b.read("big", 0, 100)));
    }

    @Test
    void aDeletedTopicsMessagesArePurgedAChunkPerTransactionAfterTheDeletionIsAnswered() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        Store store = open(server, schema);
        // One chunk (1,000) goes with the deletion, the rest in background transactions of 1,000 each: with
        // 10,000, nine of them would have to commit between the answer and the count below to empty it.
        var many = new NewMessage[10_000];
        for (int i = 0; i < many.length; i++) {
            many[i] = message("m" + i);
        }
        long last = append(store, "doomed", many).getLast().sequence();
        var deleted = new Outcome<Boolean>();
        store.deleteTopic("doomed", deleted);
        assertTrue(deleted.value());
        assertEquals(List.of(), store.read("doomed", 0, 10), "gone for readers at the commit");
        assertTrue(rows(server, schema, "messages") > 0, "a chunk went with the deletion, the rest later");
        long reborn = append(store, "doomed", message("new life")).getFirst().sequence();
        assertTrue(reborn > last);
        Await.until("the old messages are purged", () -> rows(server, schema, "messages") == 1,
                () -> rows(server, schema, "messages"));
        assertEquals(0, rows(server, schema, "purges"));
        assertEquals(List.of("new life"), payloads(store.read("doomed", 0, 10)));
    }

    private static long rows(PostgresServer server, String schema, String table) {
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT count(*) FROM " + schema + "." + table)) {
            rs.next();
            return rs.getLong(1);
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
    }
}
