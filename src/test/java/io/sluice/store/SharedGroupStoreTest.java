package io.sluice.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.domain.SluiceException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The port's promises for consumer groups' delivery state (SPEC §7), written against {@link Store}
 * only, so that every backend can run them: leases in sequence order within max in flight, settles
 * by the holder only, releases with their delay and count + 1, dead letters in the transaction that
 * settles, counts that survive reopening, and a mode fixed at creation. Runs on SQLite; a backend's
 * subclass runs it there by overriding {@link #openStore}.
 */
public class SharedGroupStoreTest {
    @TempDir
    Path dir;

    private final List<Store> opened = new ArrayList<>();

    @AfterEach
    void close() {
        opened.forEach(Store::close);
    }

    /** Opens (creating when new) the store kept at {@code location}; opening it again finds the same data. */
    protected Store openStore(Path location) {
        return Stores.open(location, StoreOptions.defaults(), (ops, messages, nanos) -> { });
    }

    private Store open() {
        Store store = openStore(dir);
        opened.add(store);
        return store;
    }

    private static List<Long> publish(Store store, String topic, int n) throws InterruptedException {
        var messages = new ArrayList<NewMessage>();
        for (int i = 0; i < n; i++) {
            messages.add(new NewMessage(ByteString.copyFromUtf8("m" + i), Map.of("k", "v" + i)));
        }
        var done = new Pending<List<Appended>>();
        store.append(topic, messages, WhenFull.WAIT, done);
        return done.await().stream().map(Appended::sequence).toList();
    }

    private static GroupSetup openShared(Store store, String topic, String group, GroupConfig config)
            throws InterruptedException {
        var done = new Pending<GroupSetup>();
        store.openGroup(new GroupRequest(topic, group, GroupMode.SHARED, config, StartPosition.earliest(), false), done);
        return done.await();
    }

    private static LeaseBatch lease(Store store, String topic, String group, String holder, int max)
            throws InterruptedException {
        var done = new Pending<LeaseBatch>();
        store.lease(topic, group, holder, max, done);
        return done.await();
    }

    /** Leases until something is leased (a backoff or delay is running out), within the test deadline. */
    private static LeaseBatch leaseWhenDue(Store store, String topic, String group, String holder)
            throws InterruptedException {
        var got = new AtomicReference<LeaseBatch>();
        Await.until("a lease comes due", () -> {
            try {
                LeaseBatch b = lease(store, topic, group, holder, 10);
                got.set(b);
                return !b.leases().isEmpty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
        });
        return got.get();
    }

    @Test
    void leasesGoInSequenceOrderWithinMaxInFlightAndOnlyTheHolderSettles() throws Exception {
        Store store = open();
        List<Long> seqs = publish(store, "t", 10);
        openShared(store, "t", "g", new GroupConfig(0, 0, "", 4, List.of()));

        LeaseBatch a = lease(store, "t", "g", "A", 3);
        assertEquals(seqs.subList(0, 3), a.leases().stream().map(Lease::sequence).toList());
        a.leases().forEach(l -> assertEquals(1, l.deliveryCount()));
        LeaseBatch b = lease(store, "t", "g", "B", 3);
        assertEquals(List.of(seqs.get(3)), b.leases().stream().map(Lease::sequence).toList(), "max in flight is 4");
        assertTrue(b.full());

        var byB = new Pending<Settled>();
        store.settle("t", "g", "B", List.of(seqs.get(0), seqs.get(3)), byB);
        assertEquals(new Settled(1, 1, 0), byB.await(), "B settles its own message only");
        var again = new Pending<Settled>();
        store.settle("t", "g", "B", List.of(seqs.get(3)), again);
        assertEquals(new Settled(0, 0, 1), again.await(), "settled already");

        LeaseBatch c = lease(store, "t", "g", "C", 5);
        assertEquals(List.of(seqs.get(4)), c.leases().stream().map(Lease::sequence).toList(), "one slot was freed");
        TopicStats.GroupStats g = store.stats(List.of("t")).getFirst().groups().getFirst();
        assertEquals(GroupMode.SHARED, g.mode());
        assertEquals(4, g.inFlight());
        assertEquals(seqs.get(0) - 1, g.cursor(), "the cursor stays before the oldest unsettled message");
    }

    @Test
    void aReleasedMessageComesBackWithCountPlusOneThenGoesToTheDeadLettersInTheSettlingTransaction()
            throws Exception {
        Store store = open();
        List<Long> seqs = publish(store, "t", 2);
        openShared(store, "t", "g", new GroupConfig(0, 2, "t.dlq", 0, List.of(1L)));
        assertEquals(2, lease(store, "t", "g", "A", 10).leases().size());

        var released = new Pending<Boolean>();
        store.release("t", "g", "A", seqs.getFirst(), 1, released);
        assertTrue(released.await());
        var notHeld = new Pending<Boolean>();
        store.release("t", "g", "B", seqs.get(1), 1, notHeld);
        assertFalse(notHeld.await(), "B does not hold it");

        LeaseBatch back = leaseWhenDue(store, "t", "g", "B");
        assertEquals(List.of(new Lease(seqs.getFirst(), 2)), back.leases());
        assertEquals(0, store.lastSequence("t.dlq"), "nothing is dead-lettered before its limit");
        var second = new Pending<Boolean>();
        store.release("t", "g", "B", seqs.getFirst(), 1, second);
        assertTrue(second.await());

        List<StoredMessage> dead = store.read("t.dlq", 0, 10);
        assertEquals(1, dead.size(), "moved at the release that exhausted it");
        Map<String, String> a = dead.getFirst().attributes();
        assertEquals("v0", a.get("k"));
        assertEquals("t", a.get("sluice.dlq.topic"));
        assertEquals(Long.toString(seqs.getFirst()), a.get("sluice.dlq.sequence"));
        assertEquals("g", a.get("sluice.dlq.group"));
        assertEquals("max_deliveries", a.get("sluice.dlq.reason"));
        assertEquals("2", a.get("sluice.dlq.delivery_count"));
        assertEquals("m0", dead.getFirst().payload().toStringUtf8());
        assertEquals(1, store.stats(List.of("t")).getFirst().groups().getFirst().deadLettered());
    }

    @Test
    void countsAndLeasesOfAnEarlierRunAreKeptAndItsLeasesReleased() throws Exception {
        Store first = open();
        List<Long> seqs = publish(first, "t", 3);
        openShared(first, "t", "g", new GroupConfig(600_000, 0, "", 0, List.of(1L)));
        assertEquals(3, lease(first, "t", "g", "A", 10).leases().size());
        var ex = new Pending<GroupSetup>();
        first.openGroup(new GroupRequest("t", "x", GroupMode.EXCLUSIVE, GroupConfig.DEFAULTS, StartPosition.earliest(),
                false), ex);
        ex.await();
        var counted = new Pending<DeliveryCounts>();
        first.countDeliveries("t", "x", seqs, counted);
        assertEquals(List.of(1, 1, 1), asList(counted.await()));
        first.close();
        opened.remove(first);

        Store second = open();
        LeaseBatch back = leaseWhenDue(second, "t", "g", "B");
        assertEquals(seqs, back.leases().stream().map(Lease::sequence).toList(), "the earlier run's leases are released");
        back.leases().forEach(l -> assertEquals(2, l.deliveryCount()));
        var recount = new Pending<DeliveryCounts>();
        second.countDeliveries("t", "x", seqs.subList(0, 2), recount);
        assertEquals(List.of(2, 2), asList(recount.await()), "exclusive counts survive too");
    }

    @Test
    void aGroupsModeIsFixedWhenItIsCreated() throws Exception {
        Store store = open();
        publish(store, "t", 1);
        openShared(store, "t", "g", GroupConfig.DEFAULTS);
        var exclusive = new Pending<GroupPosition>();
        store.openGroup("t", "g", StartPosition.earliest(), exclusive);
        assertThrows(SluiceException.FailedPrecondition.class, exclusive::await);
        var leaseExclusive = new Pending<GroupPosition>();
        store.openGroup("t", "e", StartPosition.earliest(), leaseExclusive);
        leaseExclusive.await();
        var refused = new Pending<LeaseBatch>();
        store.lease("t", "e", "A", 1, refused);
        assertThrows(SluiceException.FailedPrecondition.class, refused::await);
    }

    private static List<Integer> asList(DeliveryCounts counts) {
        var out = new ArrayList<Integer>();
        for (int c : counts.counts()) {
            out.add(c);
        }
        return out;
    }
}
