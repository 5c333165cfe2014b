package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.store.Appended;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.Lease;
import io.sluice.store.LeaseBatch;
import io.sluice.store.NewMessage;
import io.sluice.store.Pending;
import io.sluice.store.Settled;
import io.sluice.store.StartPosition;
import io.sluice.store.StoreOptions;
import io.sluice.store.TopicStats;
import io.sluice.store.WhenFull;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the SQLite backend stores a shared group's delivery state: first deliveries and their settles
 * write no row of their own (the group's row holds the unsettled span), only a message delivered more
 * than once has one, and what a reopened store reads back is exact: counts, what was settled out of
 * order, and a database written by schema version 5 (a row per unsettled message).
 */
class SharedSpanTest {
    @TempDir
    Path dir;

    private final List<SqliteStore> opened = new ArrayList<>();

    @AfterEach
    void close() {
        opened.forEach(SqliteStore::close);
    }

    private SqliteStore open() {
        SqliteStore store = SqliteStore.open(dir, StoreOptions.defaults(), (ops, messages, nanos) -> { });
        opened.add(store);
        return store;
    }

    @Test
    void firstDeliveriesAndTheirSettlesWriteNoRowsAndAReopenedStoreKnowsExactlyWhatIsUnsettled() throws Exception {
        SqliteStore first = open();
        List<Long> seqs = publish(first, "t", 300);
        openShared(first, new GroupConfig(600_000, 0, "", 200, List.of(1L)));
        List<Lease> a = lease(first, "A", 100).leases();
        List<Lease> b = lease(first, "B", 100).leases();
        assertEquals(seqs.subList(0, 100), sequences(a));
        assertEquals(seqs.subList(100, 200), sequences(b));
        assertEquals(0, rows(first.file()), "200 first deliveries in flight, no row each");

        // A gives one back (the group is at its max in flight, so only that one can be leased again);
        // then B settles every other message of its own before A settles its first ten.
        var released = new Pending<Boolean>();
        first.release("t", "g", "A", seqs.get(10), 1, released);
        assertTrue(released.await());
        LeaseBatch again = leaseWhenDue(first, "C");
        assertEquals(List.of(new Lease(seqs.get(10), 2)), again.leases());
        var settledByB = new ArrayList<Long>();
        for (int i = 0; i < 100; i += 2) {
            settledByB.add(seqs.get(100 + i));
        }
        assertEquals(new Settled(50, 0, 0), settle(first, "B", settledByB));
        assertEquals(new Settled(10, 0, 0), settle(first, "A", seqs.subList(0, 10)));
        assertEquals(1, rows(first.file()), "only the message delivered twice has a row");
        TopicStats.GroupStats stats = first.stats(List.of("t")).getFirst().groups().getFirst();
        assertEquals(200 - 60, stats.inFlight());
        assertEquals(seqs.get(9), stats.cursor(), "the cursor stays before the oldest unsettled message");
        first.close();
        opened.remove(first);

        SqliteStore second = open();
        var expected = new TreeMap<Long, Integer>();
        for (int i = 10; i < 200; i++) {
            long seq = seqs.get(i);
            if (!settledByB.contains(seq)) {
                expected.put(seq, i == 10 ? 3 : 2);
            }
        }
        var back = new TreeMap<Long, Integer>();
        Await.until("every unsettled message of the earlier run is leased again", () -> {
            try {
                lease(second, "D", 1000).leases().forEach(l -> back.put(l.sequence(), l.deliveryCount()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
            return back.keySet().containsAll(expected.keySet());
        });
        assertEquals(expected, back.headMap(seqs.get(199), true),
                "each unsettled message once more, counted from its stored count; none settled");
        back.tailMap(seqs.get(199), false).forEach((seq, count) -> assertEquals(1, count, "new message " + seq));
    }

    @Test
    void aSharedGroupWrittenBySchemaVersionFiveKeepsItsCountsAfterTheUpgrade() throws Exception {
        SqliteStore first = open();
        List<Long> seqs = publish(first, "t", 5);
        openShared(first, new GroupConfig(600_000, 0, "", 0, List.of(1L)));
        assertEquals(3, lease(first, "A", 3).leases().size());
        assertEquals(new Settled(1, 0, 0), settle(first, "A", List.of(seqs.get(1))));
        Path file = first.file();
        first.close();
        opened.remove(first);
        // What version 5 stored for this state: a row per unsettled message, no span, no count.
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO group_deliveries (topic_id, grp, seq, deliveries, holder, epoch, due_at) "
                    + "SELECT id, 'g', " + seqs.get(0) + ", 4, 'A', 0, 0 FROM topics WHERE name = 't'");
            st.executeUpdate("INSERT INTO group_deliveries (topic_id, grp, seq, deliveries, holder, epoch, due_at) "
                    + "SELECT id, 'g', " + seqs.get(2) + ", 1, 'A', 0, 0 FROM topics WHERE name = 't'");
            st.executeUpdate("ALTER TABLE consumer_groups DROP COLUMN unsettled");
            st.executeUpdate("ALTER TABLE consumer_groups DROP COLUMN in_flight");
            st.executeUpdate("DELETE FROM schema_migrations WHERE version = 6");
        }

        SqliteStore second = open();
        assertEquals(2, second.stats(List.of("t")).getFirst().groups().getFirst().inFlight(), "counted by the upgrade");
        var back = new TreeMap<Long, Integer>();
        Await.until("both unsettled messages are leased again", () -> {
            try {
                lease(second, "B", 2).leases().forEach(l -> back.put(l.sequence(), l.deliveryCount()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
            return back.size() >= 2;
        });
        assertEquals(Map.of(seqs.get(0), 5, seqs.get(2), 2), back);
        assertEquals(new Settled(2, 0, 0), settle(second, "B", List.of(seqs.get(0), seqs.get(2))));
        assertEquals(0, rows(file), "rows of the old format go when their messages are settled");
        assertEquals(seqs.subList(3, 5), sequences(lease(second, "B", 5).leases()));
    }

    // ---- helpers ----

    private static List<Long> publish(SqliteStore store, String topic, int n) throws InterruptedException {
        var messages = new ArrayList<NewMessage>();
        for (int i = 0; i < n; i++) {
            messages.add(new NewMessage(ByteString.copyFromUtf8("m" + i), Map.of()));
        }
        var done = new Pending<List<Appended>>();
        store.append(topic, messages, WhenFull.WAIT, done);
        return done.await().stream().map(Appended::sequence).toList();
    }

    private static void openShared(SqliteStore store, GroupConfig config) throws InterruptedException {
        var done = new Pending<GroupSetup>();
        store.openGroup(new GroupRequest("t", "g", GroupMode.SHARED, config, StartPosition.earliest(), false), done);
        done.await();
    }

    private static LeaseBatch lease(SqliteStore store, String holder, int max) throws InterruptedException {
        var done = new Pending<LeaseBatch>();
        store.lease("t", "g", holder, max, done);
        return done.await();
    }

    private static LeaseBatch leaseWhenDue(SqliteStore store, String holder) {
        var got = new AtomicReference<LeaseBatch>();
        Await.until("a lease comes due", () -> {
            try {
                got.set(lease(store, holder, 1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
            return !got.get().leases().isEmpty();
        });
        return got.get();
    }

    private static Settled settle(SqliteStore store, String holder, List<Long> sequences) throws InterruptedException {
        var done = new Pending<Settled>();
        store.settle("t", "g", holder, sequences, done);
        return done.await();
    }

    private static List<Long> sequences(List<Lease> leases) {
        return leases.stream().map(Lease::sequence).toList();
    }

    private static long rows(Path file) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM group_deliveries")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
