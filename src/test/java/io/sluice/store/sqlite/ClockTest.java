package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Figures;
import io.sluice.store.Appended;
import io.sluice.store.NewMessage;
import io.sluice.store.Pending;
import io.sluice.store.StoreOptions;
import io.sluice.store.WhenFull;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The wall clock stepping back (an NTP step, a VM restored from a snapshot) through the store's
 * clock seam: timestamps never go back, sequences and ids keep increasing, within a run and
 * across a restart.
 */
@ExtendWith(Figures.class)
class ClockTest {
    private static final long T0 = 1_700_000_000_000L;
    private static final long HOUR = 3_600_000L;

    @TempDir
    Path dir;

    private final AtomicLong wall = new AtomicLong(T0);
    private final List<SqliteStore> opened = new ArrayList<>();

    @AfterEach
    void close() {
        opened.forEach(SqliteStore::close);
    }

    @Test
    void timestampsSequencesAndIdsNeverGoBackWhenTheWallClockDoes() {
        SqliteStore store = open();
        var appended = new ArrayList<Appended>();
        appended.addAll(append(store, "t", 1));
        wall.set(T0 - HOUR);                       // stepped back an hour
        appended.addAll(append(store, "t", 1));
        appended.addAll(append(store, "u", 3));   // a batch in another topic
        wall.set(T0 - 2 * HOUR);
        appended.addAll(append(store, "t", 1));
        wall.set(T0 + 5);                          // forward again, past the high-water mark
        appended.addAll(append(store, "t", 1));
        store.close();

        wall.set(T0 - 24 * HOUR);                  // restarted on a clock a day behind
        SqliteStore reopened = open();
        appended.addAll(append(reopened, "t", 2));

        assertEquals(T0, appended.getFirst().timestamp());
        assertEquals(T0, appended.get(1).timestamp(), "a step back keeps the last timestamp");
        assertEquals(T0 + 5, appended.getLast().timestamp(), "after a restart the stored high-water mark holds");
        assertMonotonic(appended);

        var stored = new ArrayList<Appended>();
        for (String topic : List.of("t", "u")) {
            reopened.read(topic, 0, 100).forEach(m -> stored.add(new Appended(m.id(), m.sequence(), m.timestamp())));
        }
        stored.sort((a, b) -> Long.compare(a.sequence(), b.sequence()));
        assertEquals(appended, stored, "what was answered is what is stored");
        System.out.printf("ClockTest: %d messages across steps of -1 h, -2 h and a restart at -24 h: timestamps %s%n",
                appended.size(), appended.stream().map(a -> a.timestamp() - T0).toList());
        Figures.row("clock stepped back").cycles(4).acknowledged(appended.size());
    }

    @Test
    void deletingTheTopicWithTheNewestMessageStillNeverReusesItsSequenceOrTime() throws InterruptedException {
        SqliteStore store = open();
        var appended = new ArrayList<Appended>();
        appended.addAll(append(store, "kept", 2));
        wall.set(T0 + HOUR);
        appended.addAll(append(store, "doomed", 3));   // the newest sequence and the latest time
        var deleted = new Pending<Boolean>();
        store.deleteTopic("doomed", deleted);
        assertTrue(deleted.await());
        store.close();

        wall.set(T0 - HOUR);                       // restarted on a clock behind both
        SqliteStore reopened = open();
        appended.addAll(append(reopened, "kept", 1));

        assertEquals(T0 + HOUR, appended.getLast().timestamp(), "the deleted message's time still holds");
        assertMonotonic(appended);
        Figures.row("newest topic deleted, then restarted").cycles(1).acknowledged(appended.size());
    }

    /** Sequences strictly increase; timestamps and the ids' milliseconds never decrease; ids sort like sequences. */
    static void assertMonotonic(List<Appended> appended) {
        for (int i = 1; i < appended.size(); i++) {
            Appended before = appended.get(i - 1);
            Appended now = appended.get(i);
            assertTrue(now.sequence() > before.sequence(), "sequence " + now.sequence() + " after "
                    + before.sequence());
            assertTrue(now.timestamp() >= before.timestamp(), "timestamp " + now.timestamp() + " after "
                    + before.timestamp());
            assertTrue(millisOf(now.id()) >= millisOf(before.id()), "id time " + now.id() + " after " + before.id());
            assertEquals(now.timestamp(), millisOf(now.id()), "the id carries the message's timestamp");
            assertTrue(compareUnsigned(now.id(), before.id()) > 0, "ids sort like sequences: " + now.id()
                    + " after " + before.id());
        }
    }

    private static long millisOf(UUID id) {
        return id.getMostSignificantBits() >>> 16;
    }

    private static int compareUnsigned(UUID a, UUID b) {
        int c = Long.compareUnsigned(a.getMostSignificantBits() & ~0xFFFL, b.getMostSignificantBits() & ~0xFFFL);
        return c != 0 ? c : Long.compareUnsigned(a.getLeastSignificantBits(), b.getLeastSignificantBits());
    }

    private SqliteStore open() {
        SqliteStore store = SqliteStore.open(dir, StoreOptions.defaults().withClock(wall::get));
        opened.add(store);
        return store;
    }

    private static List<Appended> append(SqliteStore store, String topic, int n) {
        var messages = new ArrayList<NewMessage>();
        for (int i = 0; i < n; i++) {
            messages.add(new NewMessage(ByteString.copyFromUtf8(topic + i), Map.of()));
        }
        var done = new Pending<List<Appended>>();
        try {
            store.append(topic, messages, WhenFull.WAIT, done);
            return done.await();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
