package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
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
import io.sluice.store.WhenFull;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lease requests that may wait ({@code leaseWhenRoom}) on a shared group at its max in flight: the
 * commit of the settle that makes room answers them, oldest first, in sequence order and never
 * beyond max in flight; a lease expiring answers them by itself (no other write needed); a holder's
 * release-all answers its own with nothing.
 */
class WaitingLeasesTest {
    @TempDir
    Path dir;

    private SqliteStore store;

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void theSettleThatMakesRoomAnswersTheWaitingLeasesInOrderWithinMaxInFlight() throws Exception {
        store = SqliteStore.open(dir, StoreOptions.defaults(), (ops, messages, nanos) -> { });
        List<Long> seqs = publish(10);
        openShared(new GroupConfig(600_000, 0, "", 4, List.of()));
        LeaseBatch a = lease("A", 4);
        assertEquals(seqs.subList(0, 4), sequences(a.leases()));
        assertTrue(a.full());

        var b = waitingLease("B", 3);
        var c = waitingLease("C", 3);
        assertEquals(new Settled(2, 0, 0), settle("A", seqs.subList(0, 2)));
        Await.until("the settle's commit answers the first waiting lease", b::isDone);
        assertEquals(seqs.subList(4, 6), sequences(b.get().leases()), "the two freed places, in sequence order");
        b.get().leases().forEach(l -> assertEquals(1, l.deliveryCount()));
        assertTrue(b.get().full(), "the group is at its max in flight again");

        // The group is full again: C waits on; a new request goes behind it.
        LeaseBatch now = lease("D", 3);
        assertTrue(now.leases().isEmpty() && now.full(), "nothing beyond max in flight: " + now);
        assertFalse(c.isDone(), "C waits while the group is full");
        assertEquals(new Settled(1, 0, 0), settle("A", List.of(seqs.get(2))));
        var e = waitingLease("E", 3);
        Await.until("the next settle answers the older waiting lease", c::isDone);
        assertEquals(List.of(seqs.get(6)), sequences(c.get().leases()), "C came first");

        assertEquals(0, releaseAll("E"), "E's request is withdrawn; it held nothing");
        assertTrue(lease("D", 1).leases().isEmpty(), "full");   // the writer's next commit: E was answered before
        assertTrue(e.isDone(), "the release-all's commit answered E's request");
        assertTrue(e.get().leases().isEmpty(), "E got nothing: " + e.get());
        assertEquals(new Settled(1, 0, 0), settle("A", List.of(seqs.get(3))));
        assertEquals(List.of(seqs.get(7)), sequences(lease("F", 5).leases()), "the place E did not take is free");
    }

    @Test
    void aWaitingLeaseGetsAnExpiredLeaseWhenItComesDueWithoutAnotherWrite() throws Exception {
        store = SqliteStore.open(dir, StoreOptions.defaults(), (ops, messages, nanos) -> { });
        List<Long> seqs = publish(3);
        openShared(new GroupConfig(200, 0, "", 2, List.of(1L)));
        assertEquals(seqs.subList(0, 2), sequences(lease("A", 2).leases()));

        var b = waitingLease("B", 5);
        Await.until("the expired leases come due", b::isDone);
        List<Lease> got = b.get().leases();
        if (got.isEmpty()) {
            // Answered at its deadline on a slow machine before the expiry was due: ask once more.
            got = waitingLease("B", 5).get().leases();
        }
        assertEquals(seqs.subList(0, 2), sequences(got), "A's expired leases, in sequence order");
        got.forEach(l -> assertEquals(2, l.deliveryCount()));
    }

    // ---- helpers ----

    private List<Long> publish(int n) throws InterruptedException {
        var messages = new ArrayList<NewMessage>();
        for (int i = 0; i < n; i++) {
            messages.add(new NewMessage(ByteString.copyFromUtf8("m" + i), Map.of()));
        }
        var done = new Pending<List<Appended>>();
        store.append("t", messages, WhenFull.WAIT, done);
        return done.await().stream().map(Appended::sequence).toList();
    }

    private void openShared(GroupConfig config) throws InterruptedException {
        var done = new Pending<GroupSetup>();
        store.openGroup(new GroupRequest("t", "g", GroupMode.SHARED, config, StartPosition.earliest(), false), done);
        done.await();
    }

    private LeaseBatch lease(String holder, int max) throws InterruptedException {
        var done = new Pending<LeaseBatch>();
        store.lease("t", "g", holder, max, done);
        return done.await();
    }

    private CompletableFuture<LeaseBatch> waitingLease(String holder, int max) {
        var answer = new CompletableFuture<LeaseBatch>();
        store.leaseWhenRoom("t", "g", holder, max, new Completion<>() {
            @Override
            public void committed(LeaseBatch result) {
                answer.complete(result);
            }

            @Override
            public void failed(SluiceException error) {
                answer.completeExceptionally(error);
            }
        });
        return answer;
    }

    private Settled settle(String holder, List<Long> sequences) throws InterruptedException {
        var done = new Pending<Settled>();
        store.settle("t", "g", holder, sequences, done);
        return done.await();
    }

    private int releaseAll(String holder) throws InterruptedException {
        var done = new Pending<Integer>();
        store.releaseAll("t", "g", holder, done);
        return done.await();
    }

    private static List<Long> sequences(List<Lease> leases) {
        return leases.stream().map(Lease::sequence).toList();
    }
}
