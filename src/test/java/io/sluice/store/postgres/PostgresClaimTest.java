package io.sluice.store.postgres;

import static io.sluice.store.Stored.append;
import static io.sluice.store.Stored.message;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupCursor;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.LeaseBatch;
import io.sluice.store.NewMessage;
import io.sluice.store.Outcome;
import io.sluice.store.Settled;
import io.sluice.store.StartPosition;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Stores of several brokers on one database: claims of exclusive groups (a stale owner's acks and
 * counts refused), and what one store's commits tell the other's listener (claims, deletions, resets,
 * shared groups' settles), through the notification and, without one, through the poll.
 */
class PostgresClaimTest {
    @RegisterExtension
    final OpenedStores stores = new OpenedStores();

    /** What a store's listener heard, one line per event. */
    private static final class Heard implements StoreListener {
        final ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();

        @Override
        public void topicDeleted(String topic) {
            events.add("deleted " + topic);
        }

        @Override
        public void cursorReset(String topic, String group, long cursor) {
            events.add("reset " + topic + " " + group + " " + cursor);
        }

        @Override
        public void groupClaimed(String topic, String group, long claim) {
            events.add("claimed " + topic + " " + group + " " + claim);
        }

        @Override
        public void sharedGroupChanged(String topic, String group, boolean released) {
            events.add((released ? "released " : "settled ") + topic + " " + group);
        }

        @Override
        public void sharedGroupsMayHaveChanged() {
            events.add("shared groups may have changed");
        }

        @Override
        public void otherRunGone() {
            events.add("another run is gone");
        }

        void await(String event) {
            Await.until("the listener hears '" + event + "'", () -> events.contains(event), () -> events);
        }
    }

    private Store open(PostgresServer server, String schema, StoreListener listener) {
        Store s = stores.open(server, schema);
        if (listener != null) {
            s.listen(listener);
        }
        return s;
    }

    private static GroupSetup claim(Store store, String topic, String group) throws InterruptedException {
        var done = new Outcome<GroupSetup>();
        store.openGroup(new GroupRequest(topic, group, GroupMode.EXCLUSIVE, GroupConfig.DEFAULTS,
                StartPosition.earliest(), false, true), done);
        return done.value();
    }

    private static Outcome<DeliveryCounts> count(Store store, long claim, List<Long> sequences) {
        var done = new Outcome<DeliveryCounts>();
        store.countDeliveries("t", "g", claim, sequences, done);
        return done;
    }

    private static void ack(Store store, long claim, long sequence) throws InterruptedException {
        var done = new Outcome<Boolean>();
        store.ack("t", "g", claim, sequence, done);
        assertTrue(done.value());
    }

    private static long cursor(Store store, String topic, String group) {
        return store.groupCursors().stream().filter(c -> c.topic().equals(topic) && c.group().equals(group))
                .mapToLong(GroupCursor::cursor).findFirst().orElse(-1);
    }

    @Test
    void aNewerClaimOnAnotherStoreRefusesTheStaleOwnersAcksAndCountsAndIsHeardThere() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        var heardOnA = new Heard();
        Store a = open(server, schema, heardOnA);
        Store c = open(server, schema, null);
        var batch = new NewMessage[8];
        for (int i = 0; i < batch.length; i++) {
            batch[i] = message("m" + i);
        }
        List<Long> seqs = append(a, "t", batch).stream().map(Appended::sequence).toList();

        GroupSetup onA = claim(a, "t", "g");
        assertTrue(onA.claim() > Store.NO_CLAIM, "a claim was granted: " + onA.claim());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1}, count(a, onA.claim(), seqs.subList(0, 5)).value().counts());
        ack(a, onA.claim(), seqs.get(1));
        assertEquals(seqs.get(1), cursor(c, "t", "g"));

        GroupSetup onC = claim(c, "t", "g");
        assertTrue(onC.claim() > onA.claim(), "the later claim is newer: " + onC.claim() + " after " + onA.claim());
        assertEquals(seqs.get(1), onC.position().cursor(), "the new owner starts from the cursor");
        heardOnA.await("claimed t g " + onC.claim());

        ack(a, onA.claim(), seqs.get(4));
        assertEquals(seqs.get(1), cursor(c, "t", "g"), "the stale owner's ack left the cursor alone");
        assertInstanceOf(SluiceException.TakenOver.class, count(a, onA.claim(), seqs.subList(5, 6)).error());
        var term = new Outcome<Boolean>();
        a.terminate("t", "g", onA.claim(), seqs.get(4), "stale", term);
        assertInstanceOf(SluiceException.TakenOver.class, term.error(), "the stale owner's Term is refused");

        assertArrayEquals(new int[] {2, 2, 2, 1}, count(c, onC.claim(), seqs.subList(2, 6)).value().counts(),
                "delivered by the stale owner, not acknowledged: delivered again; the refused count never counted");
        ack(c, onC.claim(), seqs.get(3));
        assertEquals(seqs.get(3), cursor(a, "t", "g"), "the owner's ack moves the cursor");
        ack(c, Store.NO_CLAIM, seqs.get(4));
        assertEquals(seqs.get(4), cursor(a, "t", "g"), "an ack without a claim is not checked");
    }

    @Test
    void anAckMadeBeforeTheOwnerHearsOfAnotherStoresResetCannotUndoIt() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        var told = new java.util.concurrent.CountDownLatch(1);
        var release = new java.util.concurrent.CountDownLatch(1);
        Store a = open(server, schema, new StoreListener() {   // the owner's stream hears of the reset late
            @Override
            public void cursorReset(String topic, String group, long cursor) {
                told.countDown();
                try {
                    release.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        Store c = open(server, schema, null);
        List<Long> seqs = append(a, "t", message("m0"), message("m1"), message("m2"), message("m3"))
                .stream().map(Appended::sequence).toList();
        GroupSetup onA = claim(a, "t", "g");
        ack(a, onA.claim(), seqs.get(1));

        var reset = new Outcome<Boolean>();
        c.resetCursor("t", "g", seqs.get(0), reset);
        assertTrue(reset.value());
        assertTrue(told.await(30, java.util.concurrent.TimeUnit.SECONDS), "the owner's store hears of the reset");
        ack(a, onA.claim(), seqs.get(3));   // delivered before the reset, acknowledged before the stream heard
        assertEquals(seqs.get(0), cursor(c, "t", "g"), "an ack made before the owner was told leaves the reset alone");

        release.countDown();
        Await.until("the owner's acks move the cursor again once it was told", () -> {
            try {
                ack(a, onA.claim(), seqs.get(2));   // the replay delivered it again
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return cursor(c, "t", "g") == seqs.get(2);
        }, () -> cursor(c, "t", "g"));
    }

    @Test
    void deletionsResetsAndSharedSettlesOfOneStoreAreHeardByTheOther() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        var heardOnA = new Heard();
        Store a = open(server, schema, heardOnA);
        Store c = open(server, schema, null);
        List<Long> seqs = append(c, "t", message("x"), message("y"), message("z")).stream()
                .map(Appended::sequence).toList();
        append(c, "doomed", message("d"));

        var reset = new Outcome<Boolean>();
        c.resetCursor("t", "g", seqs.get(1), reset);
        assertTrue(reset.value());
        heardOnA.await("reset t g " + seqs.get(1));
        var gone = new Outcome<Boolean>();
        c.deleteTopic("doomed", gone);
        assertTrue(gone.value());
        heardOnA.await("deleted doomed");
        var groupGone = new Outcome<Boolean>();
        c.deleteGroup("t", "g", groupGone);
        assertTrue(groupGone.value());
        heardOnA.await("reset t g -1");

        var shared = new Outcome<GroupSetup>();
        c.openGroup(new GroupRequest("t", "s", GroupMode.SHARED, GroupConfig.DEFAULTS, StartPosition.earliest(),
                false), shared);
        shared.value();
        var leased = new Outcome<LeaseBatch>();
        c.lease("t", "s", "holder-c", 3, leased);
        assertEquals(3, leased.value().leases().size());
        var settled = new Outcome<Settled>();
        c.settle("t", "s", "holder-c", List.of(seqs.get(0)), settled);
        assertEquals(1, settled.value().settled());
        heardOnA.await("settled t s");
        var released = new Outcome<Integer>();
        c.releaseAll("t", "s", "holder-c", released);
        assertEquals(2, released.value());
        heardOnA.await("released t s");
    }

    @Test
    void withoutANotificationThePollFindsClaimsDeletionsAndResetsAndWakesSharedStreams() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        var heardOnA = new Heard();
        Store a = open(server, schema, heardOnA);
        long last = append(a, "t", message("x"), message("y")).getLast().sequence();
        append(a, "doomed", message("d"));
        GroupSetup onA = claim(a, "t", "g");
        // Another broker's writes as the database sees them, without the NOTIFY its writer would send.
        try (Connection db = server.connectToDatabase(); Statement st = db.createStatement()) {
            st.executeUpdate("UPDATE " + schema + ".consumer_groups SET claim_epoch = nextval('" + schema
                    + ".sluice_epochs'), reset_epoch = nextval('" + schema + ".sluice_epochs'), cursor_seq = " + last
                    + " WHERE name = 'g'");
            st.executeUpdate("DELETE FROM " + schema + ".topics WHERE name = 'doomed'");
        }
        heardOnA.await("deleted doomed");
        heardOnA.await("reset t g " + last);
        heardOnA.await("shared groups may have changed");   // a settle told by no notification is asked for again
        Await.until("a newer claim of t/g is heard", () -> heardOnA.events.stream()
                .filter(e -> e.startsWith("claimed t g "))
                .anyMatch(e -> Long.parseLong(e.substring("claimed t g ".length())) > onA.claim()),
                () -> heardOnA.events);
    }

    @Test
    void aRunThatFallsSilentIsToldAsGoneSoEverySharedStreamAsksAgain() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        var heardOnA = new Heard();
        open(server, schema, heardOnA);
        // Another broker killed with -9: its run said it was alive 10 s ago and says nothing more.
        try (Connection db = server.connectToDatabase(); Statement st = db.createStatement()) {
            st.executeUpdate("INSERT INTO " + schema + ".store_runs (started_at, alive_at) "
                    + "VALUES (0, now() - make_interval(secs => " + (PgLeases.RUN_GONE_SECONDS - 5) + "))");
        }
        heardOnA.await("another run is gone");   // within a poll of its 15 s: its leases count as released
    }
}
