package io.sluice.store;

import static io.sluice.store.Stored.append;
import static io.sluice.store.Stored.message;
import static io.sluice.store.Stored.payloads;
import static io.sluice.store.Stored.sequences;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.domain.SluiceException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every storage backend must do, written against the {@link Store} port only: append and
 * read, the ordering promise, nothing answered before its commit, failures, groups and cursors,
 * topics and their removal, stats, bounds and close. A backend's test extends this class and says
 * how to open its store; reopening the same {@code location} must find the same data.
 */
public abstract class StoreContract {
    private static final Duration WAIT = Outcome.WAIT;

    @TempDir
    protected Path dir;

    /** Stores opened by a test, closed after it (close is idempotent). */
    private final List<Store> opened = new ArrayList<>();

    /** Opens (creating when new) the backend's store kept at {@code location}. */
    protected abstract Store openStore(Path location, StoreOptions options);

    protected final Store open(Path location, StoreOptions options) {
        Store store = openStore(location, options);
        opened.add(store);
        return store;
    }

    protected final Store open(Path location) {
        return open(location, StoreOptions.defaults());
    }

    @AfterEach
    void closeStores() {
        opened.forEach(Store::close);
    }

    // ---- append and read ----

    @Test
    void appendedMessagesReadBackIntactAndInOrder() throws Exception {
        Store store = open(dir);
        byte[] everyByte = new byte[256];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = (byte) i;
        }
        var attrs = new LinkedHashMap<String, String>();
        attrs.put("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        attrs.put("ünïcødé", "värde ✓ 𝄞");
        attrs.put("empty-value", "");
        var sent = List.of(
                message(ByteString.copyFrom(everyByte), attrs),
                message(ByteString.EMPTY, Map.of()),
                message(ByteString.copyFromUtf8("third"), Map.of("k", "v")));
        var appended = new ArrayList<Appended>();
        appended.addAll(append(store, "orders", sent.get(0)));
        appended.addAll(append(store, "orders", sent.get(1), sent.get(2)));

        List<StoredMessage> read = store.read("orders", 0, 100);

        assertEquals(3, read.size(), "every appended message is read back");
        for (int i = 0; i < 3; i++) {
            StoredMessage m = read.get(i);
            assertEquals(appended.get(i).sequence(), m.sequence(), "sequence of message " + i);
            assertEquals(appended.get(i).id(), m.id(), "id of message " + i);
            assertEquals(appended.get(i).timestamp(), m.timestamp(), "timestamp of message " + i);
            assertEquals(sent.get(i).payload(), m.payload(), "payload of message " + i);
            assertEquals(sent.get(i).attributes(), m.attributes(), "attributes of message " + i);
        }
        assertEquals(appended.get(1).sequence() + 1, appended.get(2).sequence(), "a batch has contiguous sequences");
        assertEquals(appended.get(1).timestamp(), appended.get(2).timestamp(), "a batch has one timestamp");
        assertEquals(appended.get(2).sequence(), store.lastSequence("orders"));
        assertTrue(store.exists("orders"), "the first append created the topic");
    }

    @Test
    void readStartsAfterTheGivenSequenceAndRespectsTheLimits() throws Exception {
        Store store = open(dir);
        var seqs = new ArrayList<Long>();
        for (int i = 0; i < 10; i++) {
            seqs.add(append(store, "t", message("t-" + i)).getFirst().sequence());
            append(store, "other", message("other-" + i));   // interleaved: sequences in t may have gaps
        }

        List<StoredMessage> page = store.read("t", seqs.get(3), 3);

        assertEquals(List.of(seqs.get(4), seqs.get(5), seqs.get(6)), sequences(page));
        assertEquals(List.of("t-4", "t-5", "t-6"), payloads(page));
        assertEquals(10, store.read("t", 0, 1000).size(), "a limit above the count returns all");
        assertEquals(1, store.read("t", 0, 1).size());
        assertEquals(List.of(), store.read("t", seqs.getLast(), 10), "nothing after the last sequence");
        assertEquals(List.of(), store.read("t", 0, 0), "limit 0 reads nothing");
        assertEquals(List.of(), store.read("unknown", 0, 10), "an unknown topic reads empty");
        assertEquals(1, store.read("t", 0, 10, 1).size(), "a byte limit below one message still reads one");
        assertEquals(2, store.read("t", 0, 10, "t-0".length() + 1).size(), "reading stops once the bytes are reached");
    }

    @Test
    void resolveFindsTheSequenceOfAnIdOnlyInItsOwnTopic() throws Exception {
        Store store = open(dir);
        Appended first = append(store, "a", message("a1")).getFirst();
        Appended second = append(store, "a", message("a2")).getFirst();
        Appended other = append(store, "b", message("b1")).getFirst();

        assertEquals(OptionalLong.of(first.sequence()), store.resolve("a", first.id().toString()));
        assertEquals(OptionalLong.of(second.sequence()), store.resolve("a", second.id().toString()));
        assertEquals(OptionalLong.of(other.sequence()), store.resolve("b", other.id().toString()));
        assertEquals(OptionalLong.empty(), store.resolve("a", other.id().toString()), "an id of another topic");
        assertEquals(OptionalLong.empty(), store.resolve("missing", first.id().toString()), "an unknown topic");
        UUID forged = new UUID(first.id().getMostSignificantBits() ^ 0x0001L, first.id().getLeastSignificantBits());
        assertEquals(OptionalLong.empty(), store.resolve("a", forged.toString()), "an id naming a stored sequence");
        long msb = (System.currentTimeMillis() << 16) | 0x7000L | new Random(7).nextInt(1 << 12);
        UUID random = new UUID(msb, 0x8000_0000_0000_0000L | (new Random(7).nextLong() & 0x3FFF_FFFF_FFFF_FFFFL));
        assertEquals(OptionalLong.empty(), store.resolve("a", random.toString()), "a random UUIDv7: " + random);
        for (String garbage : new String[] {"", "not-an-id", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
                UUID.randomUUID().toString(), first.id().toString() + "0", first.id().toString().substring(1)}) {
            assertEquals(OptionalLong.empty(), store.resolve("a", garbage), "garbage id \"" + garbage + "\"");
        }
        assertEquals(OptionalLong.empty(), store.resolve("a", null), "a null id");
    }

    // ---- ordering ----

    @Test
    void sequencesBecomeVisibleInIncreasingOrderWithNoGapFilledLater() throws Exception {
        Store store = open(dir);
        int writers = 8;
        int appendsEach = 150;
        var done = new AtomicBoolean();
        var seen = new TreeSet<Long>();
        var violations = new ConcurrentLinkedQueue<String>();
        Thread reader = Thread.ofPlatform().name("reader").start(() -> {
            long last = 0;
            while (true) {
                boolean finished = done.get();
                List<StoredMessage> page = store.read("t", last, 500);
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
        var appended = new ConcurrentLinkedQueue<List<Appended>>();
        var threads = new ArrayList<Thread>();
        for (int w = 0; w < writers; w++) {
            int id = w;
            threads.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                var random = new Random(id);
                for (int i = 0; i < appendsEach; i++) {
                    var batch = new ArrayList<NewMessage>();
                    for (int k = 0, n = 1 + random.nextInt(3); k < n; k++) {
                        batch.add(message("w" + id + "-" + i + "-" + k));
                    }
                    appended.add(append(store, "t", batch.toArray(NewMessage[]::new)));
                }
            }));
        }
        for (Thread t : threads) {
            assertTrue(t.join(WAIT), t.getName() + " finished");
        }
        done.set(true);
        assertTrue(reader.join(WAIT), "the reader finished");

        assertTrue(violations.isEmpty(), "a reader never goes back: " + violations);
        List<Long> all = sequences(store.read("t", 0, 100_000));
        assertEquals(new ArrayList<>(seen), all, "the reader saw every message: no gap was filled behind it");
        long total = 0;
        for (List<Appended> one : appended) {
            for (int i = 1; i < one.size(); i++) {
                assertEquals(one.get(i - 1).sequence() + 1, one.get(i).sequence(), "one append is contiguous");
            }
            total += one.size();
        }
        assertEquals(total, all.size(), "every appended message is stored once");
        List<StoredMessage> read = store.read("t", 0, 100_000);
        for (int i = 1; i < read.size(); i++) {
            assertTrue(read.get(i).timestamp() >= read.get(i - 1).timestamp(), "timestamps never go backwards");
        }
    }

    @Test
    void timestampsNeverGoBackwardsWhenTheClockDoes() throws Exception {
        var wall = new AtomicLong(1_700_000_000_000L);
        Store store = open(dir, StoreOptions.defaults().withClock(wall::get));
        long first = append(store, "t", message("one")).getFirst().timestamp();
        wall.addAndGet(-60_000);
        long second = append(store, "t", message("two")).getFirst().timestamp();
        assertTrue(second >= first, second + " after " + first);
    }

    // ---- commits ----

    @Test
    void nothingIsAnsweredOrVisibleBeforeItsCommit() throws Exception {
        var entered = new CountDownLatch(1);
        var release = new CountDownLatch(1);
        var armed = new AtomicBoolean();
        Store store = open(dir, StoreOptions.defaults().withBeforeCommit(writes -> {
            if (armed.compareAndSet(true, false)) {
                entered.countDown();
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
        }));
        append(store, "existing", message("before"));
        armed.set(true);
        var held = new Outcome<List<Appended>>();
        store.append("fresh", List.of(message("held")), WhenFull.WAIT, held);
        assertTrue(entered.await(WAIT.toSeconds(), TimeUnit.SECONDS), "the commit was reached");

        assertFalse(held.answered(), "an append is not answered before its commit");
        assertEquals(List.of(), store.read("fresh", 0, 10), "nor readable");
        assertEquals(0, store.lastSequence("fresh"));
        release.countDown();

        held.value();
        assertEquals(List.of("held"), payloads(store.read("fresh", 0, 10)), "visible once committed");
    }

    @Test
    void aFailedCommitFailsEveryWriteOfItsTransactionAndTheStoreGoesOn() throws Exception {
        var failNext = new AtomicBoolean();
        Store store = open(dir, StoreOptions.defaults().withBeforeCommit(writes -> {
            if (failNext.compareAndSet(true, false)) {
                throw new java.io.IOException("injected commit failure");
            }
        }));
        var gate = new WriterGate("gate");
        store.listen(gate);
        append(store, "t", message("kept"));
        gate.arm();
        append(store, "gate", message("holds the writer"));
        gate.awaitHeld();
        var failed = new ArrayList<Outcome<List<Appended>>>();
        for (int i = 0; i < 10; i++) {
            var o = new Outcome<List<Appended>>();
            store.append(i % 2 == 0 ? "t" : "created-by-failed", List.of(message("lost " + i)), WhenFull.WAIT, o);
            failed.add(o);
        }
        var group = new Outcome<GroupPosition>();
        store.openGroup("t", "g", StartPosition.earliest(), group);
        failNext.set(true);
        gate.release();

        for (var o : failed) {
            assertInstanceOf(SluiceException.class, o.error());
        }
        assertInstanceOf(SluiceException.class, group.error(), "every write of the transaction fails");
        assertEquals(List.of("kept"), payloads(store.read("t", 0, 100)), "nothing of the failed commit is visible");
        assertFalse(store.exists("created-by-failed"));
        assertTrue(store.groupCursors().stream().noneMatch(c -> c.group().equals("g")));

        append(store, "t", message("after"));
        assertEquals(List.of("kept", "after"), payloads(store.read("t", 0, 100)), "the store writes again");
        store.close();
        Store reopened = open(dir);
        assertEquals(List.of("kept", "after"), payloads(reopened.read("t", 0, 100)), "and so after a restart");
        assertFalse(reopened.exists("created-by-failed"));
    }

    @Test
    void declineQueuesWhileThereIsRoomAndTakesNothingWhenFull() throws Exception {
        Store store = open(dir, StoreOptions.defaults().withWriteQueue(3));
        var gate = new WriterGate("gate");
        store.listen(gate);
        gate.arm();
        append(store, "gate", message("holds the writer"));
        gate.awaitHeld();

        var taken = new ArrayList<Outcome<List<Appended>>>();
        for (int i = 0; i < 3; i++) {
            var o = new Outcome<List<Appended>>();
            assertTrue(store.append("t", List.of(message("m" + i)), WhenFull.DECLINE, o), "room for write " + i);
            taken.add(o);
        }
        var refused = new Outcome<List<Appended>>();
        assertFalse(store.append("t", List.of(message("no room")), WhenFull.DECLINE, refused), "a full queue declines");
        assertEquals(3, store.pendingWrites(), "the declined write was not queued");
        var paced = new Outcome<List<Appended>>();
        assertTrue(store.append("t", List.of(message("paced")), WhenFull.ACCEPT, paced), "ACCEPT takes it past the bound");
        gate.release();

        for (var o : taken) {
            o.value();
        }
        paced.value();
        assertFalse(refused.await(Duration.ofMillis(200)), "the declined write is never answered: it was not taken");
        assertEquals(List.of("m0", "m1", "m2", "paced"), payloads(store.read("t", 0, 10)));
    }

    @Test
    void aClosedStoreRefusesWritesAndReadsAsUnavailable() throws Exception {
        Store store = open(dir);
        append(store, "t", message("before close"));
        store.close();
        store.close();   // idempotent

        var o = new Outcome<List<Appended>>();
        store.append("t", List.of(message("after close")), WhenFull.WAIT, o);
        assertInstanceOf(SluiceException.Unavailable.class, o.error());
        assertThrows(SluiceException.Unavailable.class, () -> store.read("t", 0, 10));
    }

    @Test
    void closeAnswersEveryWriteQueuedBeforeOrDuringItAndKeepsEveryAcknowledgedOne() throws Exception {
        for (int round = 0; round < 5; round++) {
            Path data = dir.resolve("round-" + round);
            Store store = open(data, StoreOptions.defaults().withWriteQueue(2));
            var acked = new ConcurrentHashMap<Long, String>();
            var progress = new Semaphore(0);
            var unanswered = new AtomicInteger();
            var unexpected = new ConcurrentLinkedQueue<Throwable>();
            var threads = new ArrayList<Thread>();
            for (int t = 0; t < 16; t++) {
                int id = t;
                threads.add(Thread.ofPlatform().name("appender-" + t).start(() -> {
                    for (int n = 0; ; n++) {
                        var o = new Outcome<List<Appended>>();
                        String payload = "a" + id + "-" + n;
                        try {
                            store.append("t" + id % 4, List.of(message(payload)), WhenFull.WAIT, o);
                        } catch (RuntimeException e) {
                            unexpected.add(e);
                            return;
                        }
                        if (!o.await(WAIT)) {
                            unanswered.incrementAndGet();
                            return;
                        }
                        if (o.failure() != null) {
                            if (!(o.failure() instanceof SluiceException.Unavailable)) {
                                unexpected.add(o.failure());
                            }
                            return;
                        }
                        acked.put(o.result().getFirst().sequence(), payload);
                        progress.release();
                    }
                }));
            }
            assertTrue(progress.tryAcquire(200, WAIT.toSeconds(), TimeUnit.SECONDS), "appenders make progress");
            store.close();
            for (Thread t : threads) {
                assertTrue(t.join(WAIT.plusSeconds(5)), t.getName() + " still waits for an outcome");
            }
            assertEquals(0, unanswered.get(), "appends never answered after close (round " + round + ")");
            assertTrue(unexpected.isEmpty(), "failures other than Unavailable: " + unexpected);

            Store reopened = open(data);
            var found = new ConcurrentHashMap<Long, String>();
            for (TopicInfo topic : reopened.topics()) {
                reopened.read(topic.name(), 0, 100_000).forEach(m -> found.put(m.sequence(), m.payload().toStringUtf8()));
            }
            acked.forEach((seq, payload) -> assertEquals(payload, found.get(seq), "acknowledged message " + seq));
            reopened.close();
        }
    }

    @Test
    void reopeningKeepsDataAndSequencesAreNeverReused() throws Exception {
        Store first = open(dir);
        Appended a = append(first, "t", message("one", Map.of("k", "v"))).getFirst();
        Appended b = append(first, "u", message("two")).getFirst();
        first.close();

        Store second = open(dir);
        assertEquals(List.of("t", "u"), second.topics().stream().map(TopicInfo::name).toList());
        assertEquals(List.of(a.sequence()), sequences(second.read("t", 0, 10)));
        assertEquals(Map.of("k", "v"), second.read("t", 0, 10).getFirst().attributes());
        assertEquals(OptionalLong.of(b.sequence()), second.resolve("u", b.id().toString()));
        Appended c = append(second, "t", message("three")).getFirst();
        assertTrue(c.sequence() > b.sequence(), "sequences continue after a reopen, never reused");
        assertTrue(c.timestamp() >= a.timestamp(), "and timestamps never go back");
    }

    // ---- groups and cursors ----

    @Test
    void groupsStartWhereAskedAndAcksOnlyMoveCursorsForward() throws Exception {
        Store store = open(dir);
        var resets = new CopyOnWriteArrayList<String>();
        store.listen(new StoreListener() {
            @Override
            public void cursorReset(String topic, String group, long cursor) {
                resets.add(topic + "/" + group + "@" + cursor);
            }
        });
        var seqs = new ArrayList<Long>();
        for (int i = 0; i < 5; i++) {
            seqs.add(append(store, "t", message("m" + i)).getFirst().sequence());
        }
        assertEquals(0, openGroup(store, "t", "early", StartPosition.earliest()).cursor());
        assertEquals(seqs.getLast(), openGroup(store, "t", "late", StartPosition.latest()).cursor());
        assertEquals(seqs.get(2) - 1, openGroup(store, "t", "mid", StartPosition.at(seqs.get(2))).cursor());
        assertEquals(0, openGroup(store, "t", "early", StartPosition.latest()).cursor(),
                "an existing group keeps its cursor whatever the start asked");

        assertTrue(ack(store, "t", "early", seqs.get(3)));
        assertTrue(ack(store, "t", "early", seqs.get(1)), "an older ack is answered");
        assertEquals(seqs.get(3), cursorOf(store, "t", "early"), "but never moves the cursor back");
        assertFalse(ack(store, "gone", "early", 1), "an ack on an unknown topic answers false");

        var reset = new Outcome<Boolean>();
        store.resetCursor("t", "early", seqs.get(0), reset);
        assertTrue(reset.value());
        assertEquals(seqs.get(0), cursorOf(store, "t", "early"), "a reset may move a cursor back");
        Await.until("listeners hear of the reset", () -> resets.equals(List.of("t/early@" + seqs.get(0))), () -> resets);
        var unknown = new Outcome<Boolean>();
        store.resetCursor("nope", "g", 1, unknown);
        assertFalse(unknown.value(), "a reset on an unknown topic answers false");

        var deleted = new Outcome<Boolean>();
        store.deleteGroup("t", "mid", deleted);
        assertTrue(deleted.value());
        var again = new Outcome<Boolean>();
        store.deleteGroup("t", "mid", again);
        assertFalse(again.value(), "deleting a group that does not exist answers false");
        assertEquals(Set.of("early", "late"), Set.copyOf(store.groupCursors().stream()
                .filter(c -> c.topic().equals("t")).map(GroupCursor::group).toList()));
        assertEquals(seqs.getLast(), openGroup(store, "t", "mid", StartPosition.latest()).cursor(),
                "a deleted group starts afresh");
    }

    @Test
    void cursorsAndDeliveryMarksSurviveARestart() throws Exception {
        Store store = open(dir);
        var seqs = new ArrayList<Long>();
        for (int i = 0; i < 5; i++) {
            seqs.add(append(store, "t", message("m" + i)).getFirst().sequence());
        }
        openGroup(store, "t", "g", StartPosition.earliest());
        assertTrue(ack(store, "t", "g", seqs.get(1)));
        var counted = new Outcome<DeliveryCounts>();
        store.countDeliveries("t", "g", List.of(seqs.get(2), seqs.get(3)), counted);
        assertArrayEquals(new int[] {1, 1}, counted.value().counts(), "first deliveries");
        store.close();

        Store reopened = open(dir);
        GroupPosition p = openGroup(reopened, "t", "g", StartPosition.latest());
        assertEquals(seqs.get(1), p.cursor(), "the acknowledged cursor");
        assertEquals(seqs.get(3), p.delivered(), "the highest delivered sequence");
        var again = new Outcome<DeliveryCounts>();
        reopened.countDeliveries("t", "g", List.of(seqs.get(2), seqs.get(3), seqs.get(4)), again);
        assertArrayEquals(new int[] {2, 2, 1}, again.value().counts(), "counts go on after a restart, never back");
    }

    @Test
    void aTopicTakesNewGroupsUpToItsLimitAndTheRefusalFailsNothingElse() throws Exception {
        Store store = open(dir, StoreOptions.defaults().withMaxGroupsPerTopic(3));
        Appended m = append(store, "t", message("one")).getFirst();
        for (String g : List.of("a", "b", "c")) {
            openGroup(store, "t", g, StartPosition.earliest());
        }
        var refused = new Outcome<GroupPosition>();
        var alongside = new Outcome<List<Appended>>();
        var existing = new Outcome<GroupPosition>();
        store.openGroup("t", "d", StartPosition.earliest(), refused);
        store.append("t", List.of(message("two")), WhenFull.WAIT, alongside);
        store.openGroup("t", "a", StartPosition.earliest(), existing);
        var e = assertInstanceOf(SluiceException.TooLarge.class, refused.error());
        assertTrue(e.getMessage().contains("3 consumer groups") && e.getMessage().contains("--max-groups-per-topic"),
                e.getMessage());
        assertEquals(m.sequence() + 1, alongside.value().getFirst().sequence(), "the rest of its commit went on");
        assertEquals(0, existing.value().cursor(), "an existing group is never refused");
        var reset = new Outcome<Boolean>();
        store.resetCursor("t", "e", m.sequence(), reset);
        assertInstanceOf(SluiceException.TooLarge.class, reset.error(), "nor created by a cursor reset");
        openGroup(store, "u", "d", StartPosition.earliest());
    }

    @Test
    void aStoreTakesNewTopicsUpToItsLimitAndTheRefusalFailsNothingElse() throws Exception {
        Store store = open(dir, StoreOptions.defaults().withMaxTopics(2));
        append(store, "a", message("one"));
        openGroup(store, "b", "g", StartPosition.earliest());   // a subscriber creates its topic too
        var refused = new Outcome<List<Appended>>();
        var alongside = new Outcome<List<Appended>>();
        store.append("c", List.of(message("x")), WhenFull.WAIT, refused);
        store.append("a", List.of(message("two")), WhenFull.WAIT, alongside);
        var e = assertInstanceOf(SluiceException.TooLarge.class, refused.error());
        assertTrue(e.getMessage().startsWith("cannot create topic c: the broker holds 2 topics")
                && e.getMessage().contains("--max-topics"), e.getMessage());
        assertEquals(1, alongside.value().size(), "the rest of its commit went on");
        var group = new Outcome<GroupPosition>();
        store.openGroup("d", "g", StartPosition.earliest(), group);
        assertInstanceOf(SluiceException.TooLarge.class, group.error(), "nor created by a subscriber");
        var configured = new Outcome<io.sluice.store.ConfiguredTopic>();
        store.configureTopic("e", TopicConfig.unlimited(), configured);
        assertInstanceOf(SluiceException.TooLarge.class, configured.error(), "nor by ConfigureTopic");
        assertEquals(List.of("a", "b"), store.topics().stream().map(TopicInfo::name).toList());

        var deleted = new Outcome<Boolean>();
        store.deleteTopic("a", deleted);
        assertTrue(deleted.value());
        append(store, "c", message("x"));   // a deleted topic makes room
    }

    // ---- topics ----

    @Test
    void deletingATopicRemovesItsMessagesAndGroupsAndItsSequencesAreNotReused() throws Exception {
        Store store = open(dir);
        var topicEnds = new CopyOnWriteArrayList<String>();
        store.listen(new StoreListener() {
            @Override
            public void topicDeleted(String topic) {
                topicEnds.add(topic);
            }
        });
        long last = 0;
        for (int i = 0; i < 20; i++) {
            last = append(store, "doomed", message("m" + i)).getFirst().sequence();
        }
        append(store, "kept", message("k"));
        openGroup(store, "doomed", "g", StartPosition.earliest());

        var deleted = new Outcome<Boolean>();
        store.deleteTopic("doomed", deleted);
        assertTrue(deleted.value());
        assertFalse(store.exists("doomed"));
        assertEquals(List.of(), store.read("doomed", 0, 100));
        assertEquals(0, store.lastSequence("doomed"));
        assertEquals(List.of("kept"), store.topics().stream().map(TopicInfo::name).toList());
        assertTrue(store.groupCursors().stream().noneMatch(c -> c.topic().equals("doomed")));
        Await.until("listeners hear of the deletion", () -> topicEnds.equals(List.of("doomed")), () -> topicEnds);
        var again = new Outcome<Boolean>();
        store.deleteTopic("doomed", again);
        assertFalse(again.value(), "deleting a topic that does not exist answers false");

        long reborn = append(store, "doomed", message("new life")).getFirst().sequence();
        assertTrue(reborn > last, "a topic created again never reuses a sequence");
        assertEquals(List.of("new life"), payloads(store.read("doomed", 0, 100)));
        var ensured = new Outcome<TopicInfo>();
        store.ensureTopic("empty", ensured);
        assertEquals("empty", ensured.value().name());
        assertTrue(store.exists("empty"));
    }

    @Test
    void statsCountMessagesRangesAndGroups() throws Exception {
        Store store = open(dir);
        var appended = new ArrayList<Appended>();
        for (int i = 0; i < 4; i++) {
            appended.addAll(append(store, "t", message("m" + i)));
        }
        openGroup(store, "t", "g", StartPosition.earliest());
        assertTrue(ack(store, "t", "g", appended.get(1).sequence()));
        var empty = new Outcome<TopicInfo>();
        store.ensureTopic("e", empty);
        empty.value();

        List<TopicStats> all = store.stats(List.of());
        assertEquals(List.of("e", "t"), all.stream().map(TopicStats::topic).toList());
        TopicStats e = all.get(0);
        assertEquals(0, e.totalMessages());
        assertEquals(0, e.firstSequence());
        assertEquals(0, e.lastSequence());
        TopicStats t = all.get(1);
        assertEquals(4, t.totalMessages());
        assertEquals(appended.getFirst().sequence(), t.firstSequence());
        assertEquals(appended.getLast().sequence(), t.lastSequence());
        assertEquals(appended.getFirst().timestamp(), t.firstTimestamp());
        assertEquals(appended.getLast().timestamp(), t.lastTimestamp());
        assertEquals(1, t.groups().size());
        assertEquals("g", t.groups().getFirst().group());
        assertEquals(appended.get(1).sequence(), t.groups().getFirst().cursor());
        assertEquals(2, t.groups().getFirst().pending());
        assertEquals(List.of("t"), store.stats(List.of("t", "unknown")).stream().map(TopicStats::topic).toList(),
                "unknown names are skipped");
    }

    // ---- publish guarantees ----

    @Test
    void aDuplicateDedupIdIsAnsweredWithTheOriginalWithinAnAppendACommitAndAcrossAppends() throws Exception {
        var wall = new AtomicLong(1_700_000_000_000L);
        Store store = open(dir, StoreOptions.defaults().withClock(wall::get).withDedupWindow(60_000));
        var gate = new WriterGate("gate");
        store.listen(gate);
        List<Appended> first = appendWith(store, "t", OptionalLong.empty(),
                deduped("a", "k1"), deduped("a again", "k1"), message("plain")).value();
        assertFalse(first.get(0).duplicate());
        assertEquals(first.get(0).asDuplicate(), first.get(1), "a repeat within one append answers the original");
        assertFalse(first.get(2).duplicate());

        wall.addAndGet(30_000);
        Appended again = appendWith(store, "t", OptionalLong.empty(), deduped("b", "k1")).value().getFirst();
        assertEquals(first.get(0).asDuplicate(), again, "a later append answers the original's id, sequence, time");

        gate.arm();
        append(store, "gate", message("holds the writer"));
        gate.awaitHeld();
        var one = new Outcome<List<Appended>>();
        var two = new Outcome<List<Appended>>();
        store.append("t", List.of(deduped("c", "k2")), OptionalLong.empty(), WhenFull.WAIT, one);
        store.append("t", List.of(deduped("c again", "k2")), OptionalLong.empty(), WhenFull.WAIT, two);
        gate.release();
        assertFalse(one.value().getFirst().duplicate());
        assertEquals(one.value().getFirst().asDuplicate(), two.value().getFirst(), "within one commit too");
        assertEquals(List.of("a", "plain", "c"), payloads(store.read("t", 0, 10)), "each dedup id stored once");
        store.close();

        Store reopened = open(dir, StoreOptions.defaults().withClock(wall::get).withDedupWindow(60_000));
        assertEquals(first.get(0).asDuplicate(),
                appendWith(reopened, "t", OptionalLong.empty(), deduped("d", "k1")).value().getFirst(),
                "kept across a restart");
        wall.addAndGet(31_000);   // past the 60 s window counted from the original
        Appended fresh = appendWith(reopened, "t", OptionalLong.empty(), deduped("e", "k1")).value().getFirst();
        assertFalse(fresh.duplicate(), "forgotten after the window");
        assertTrue(fresh.sequence() > one.value().getFirst().sequence());
        assertFalse(appendWith(reopened, "u", OptionalLong.empty(), deduped("f", "k2")).value().getFirst().duplicate(),
                "dedup ids are per topic");
    }

    @Test
    void anExpectedLastSequenceStoresOnlyOnTheTopicsLastSequence() throws Exception {
        Store store = open(dir);
        var stale = appendWith(store, "t", OptionalLong.of(5), message("x"));
        var refused = assertInstanceOf(SluiceException.FailedPrecondition.class, stale.error());
        assertEquals("topic t: expected last sequence 5, but it is 0", refused.getMessage());
        assertEquals(0, store.lastSequence("t"), "a refused append stores nothing");
        assertEquals(List.of(), store.read("t", 0, 10));

        long last = appendWith(store, "t", OptionalLong.of(0), message("first")).value().getFirst().sequence();
        append(store, "other", message("moves the global sequence"));
        var behind = appendWith(store, "t", OptionalLong.of(last - 1), message("late"));
        assertEquals("topic t: expected last sequence " + (last - 1) + ", but it is " + last,
                assertInstanceOf(SluiceException.FailedPrecondition.class, behind.error()).getMessage());
        List<Appended> next = appendWith(store, "t", OptionalLong.of(last), message("second"), message("third"))
                .value();
        assertEquals(List.of("first", "second", "third"), payloads(store.read("t", 0, 10)));

        var gate = new WriterGate("gate");
        store.listen(gate);
        gate.arm();
        append(store, "gate", message("holds the writer"));
        gate.awaitHeld();
        long tail = next.getLast().sequence();
        var winner = new Outcome<List<Appended>>();
        var loser = new Outcome<List<Appended>>();
        store.append("t", List.of(message("wins")), OptionalLong.of(tail), WhenFull.WAIT, winner);
        store.append("t", List.of(message("loses")), OptionalLong.of(tail), WhenFull.WAIT, loser);
        gate.release();
        long won = winner.value().getFirst().sequence();
        assertInstanceOf(SluiceException.FailedPrecondition.class, loser.error(), "and the refusal fails nothing else");
        assertEquals(List.of("first", "second", "third", "wins"), payloads(store.read("t", 0, 10)),
                "within one commit only the first of two appends expecting the same sequence is stored");
        assertEquals(won, store.lastSequence("t"));
    }

    @Test
    void cursorAtTimeFindsTheFirstMessageAtOrAfterATime() throws Exception {
        var wall = new AtomicLong(1_700_000_000_000L);
        Store store = open(dir, StoreOptions.defaults().withClock(wall::get));
        long a = append(store, "t", message("a")).getFirst().sequence();
        append(store, "other", message("between"));
        wall.addAndGet(1_000);
        long b = append(store, "t", message("b")).getFirst().sequence();
        long c = append(store, "t", message("c")).getFirst().sequence();

        assertEquals(0, store.cursorAtTime("unknown", 0), "an unknown topic");
        assertEquals(a - 1, store.cursorAtTime("t", 0), "before everything: the first message");
        assertEquals(b - 1, store.cursorAtTime("t", wall.get() - 999), "the first message at or after the time");
        assertEquals(b - 1, store.cursorAtTime("t", wall.get()), "stamped exactly then, the first of them");
        assertEquals(c, store.cursorAtTime("t", wall.get() + 1), "none after it: the last sequence");
        assertEquals(b - 1, openGroup(store, "t", "by-time", StartPosition.atTime(wall.get())).cursor(),
                "a group started at a time starts there");
    }

    @Test
    void cursorAtTimeAgreesWithAScanOverManyAppendsOfInterleavedTopics() throws Exception {
        var wall = new AtomicLong(1_700_000_000_000L);
        Store store = open(dir, StoreOptions.defaults().withClock(wall::get));
        var random = new Random(7);
        for (int i = 0; i < 300; i++) {
            String topic = random.nextInt(3) == 0 ? "other" : "t";
            int size = 1 + random.nextInt(4);
            var batch = new NewMessage[size];
            for (int j = 0; j < size; j++) {
                batch[j] = message(i + "." + j);
            }
            append(store, topic, batch);
            wall.addAndGet(random.nextInt(4) == 0 ? 0 : random.nextInt(50));
        }
        List<StoredMessage> all = store.read("t", 0, 10_000);
        long first = all.getFirst().timestamp();
        long last = all.getLast().timestamp();
        for (long at = first - 10; at <= last + 10; at += 1 + random.nextInt(7)) {
            long time = at;
            long expected = all.stream().filter(m -> m.timestamp() >= time).findFirst()
                    .map(m -> m.sequence() - 1).orElse(all.getLast().sequence());
            assertEquals(expected, store.cursorAtTime("t", time), "the cursor before the first message at or after " + time);
        }
    }

    // ---- group configuration ----

    @Test
    void aGroupsConfigurationIsStoredKeptAcrossARestartAndReplacedOnlyWhenAsked() throws Exception {
        Store store = open(dir);
        long first = append(store, "t", message("m")).getFirst().sequence();
        var config = new GroupConfig(5_000, 0, "", 50, List.of(10L, 20L));
        GroupSetup created = openGroup(store, new GroupRequest("t", "g", GroupMode.EXCLUSIVE, config,
                StartPosition.earliest(), false));
        assertTrue(created.created());
        assertEquals(GroupMode.EXCLUSIVE, created.mode());
        assertEquals(config, created.config());
        assertEquals(first - 1, created.position().cursor());

        var other = new GroupConfig(9_000, 0, "", 0, List.of());
        GroupSetup kept = openGroup(store, new GroupRequest("t", "g", GroupMode.EXCLUSIVE, other,
                StartPosition.latest(), false));
        assertFalse(kept.created());
        assertEquals(config, kept.config(), "an existing group keeps its configuration unless asked to replace it");
        assertEquals(first - 1, kept.position().cursor(), "and its cursor");
        store.close();

        Store reopened = open(dir);
        assertEquals(config, openGroup(reopened, new GroupRequest("t", "g", GroupMode.EXCLUSIVE, other,
                StartPosition.latest(), false)).config(), "the configuration survives a restart");
        GroupSetup replaced = openGroup(reopened, new GroupRequest("t", "g", GroupMode.EXCLUSIVE, other,
                StartPosition.latest(), true));
        assertFalse(replaced.created());
        assertEquals(other, replaced.config(), "replaced when asked");
        assertEquals(first - 1, replaced.position().cursor(), "replacing keeps the cursor");
        assertEquals(other, openGroup(reopened, new GroupRequest("t", "g", GroupMode.EXCLUSIVE, config,
                StartPosition.latest(), false)).config());
    }

    // ---- dead letters and Term ----

    @Test
    void exhaustedAndTerminatedMessagesGoToTheDeadLettersOnceAndAreNeverDeliveredAgain() throws Exception {
        Store store = open(dir);
        List<Appended> sent = append(store, "t", message("m0", Map.of("k", "v0")), message("m1", Map.of("k", "v1")),
                message("m2", Map.of("k", "v2")));
        List<Long> seqs = sent.stream().map(Appended::sequence).toList();
        openGroup(store, new GroupRequest("t", "g", GroupMode.EXCLUSIVE, new GroupConfig(0, 2, "t.dlq", 0, List.of()),
                StartPosition.earliest(), false));
        assertArrayEquals(new int[] {1, 1, 1}, count(store, "t", "g", seqs));
        assertTrue(terminate(store, "t", "g", "", seqs.get(2), "cannot parse"));
        assertFalse(terminate(store, "t", "g", "", seqs.get(2), "again"), "terminated once");
        assertArrayEquals(new int[] {0}, count(store, "t", "g", seqs.subList(2, 3)), "never delivered again");
        assertArrayEquals(new int[] {2, 2}, count(store, "t", "g", seqs.subList(0, 2)));
        assertArrayEquals(new int[] {0}, count(store, "t", "g", seqs.subList(0, 1)),
                "delivered max_deliveries times: dead-lettered instead of delivered");
        assertEquals(seqs.get(0), cursorOf(store, "t", "g"), "the cursor passes what was settled without an ack");
        assertTrue(terminate(store, "t", "g", "", seqs.get(1), "no"));
        assertEquals(seqs.get(2), cursorOf(store, "t", "g"), "and m2, terminated before, right after m1");

        List<StoredMessage> dead = store.read("t.dlq", 0, 10);
        assertEquals(List.of("m2", "m0", "m1"), payloads(dead));
        Map<String, String> exhausted = dead.get(1).attributes();
        assertEquals("v0", exhausted.get("k"));
        assertEquals("t", exhausted.get("sluice.dlq.topic"));
        assertEquals(Long.toString(seqs.get(0)), exhausted.get("sluice.dlq.sequence"));
        assertEquals(sent.get(0).id().toString(), exhausted.get("sluice.dlq.message_id"));
        assertEquals("g", exhausted.get("sluice.dlq.group"));
        assertEquals("max_deliveries", exhausted.get("sluice.dlq.reason"));
        assertEquals("2", exhausted.get("sluice.dlq.delivery_count"));
        assertEquals("", exhausted.get("sluice.dlq.detail"));
        Map<String, String> rejected = dead.get(0).attributes();
        assertEquals("rejected", rejected.get("sluice.dlq.reason"));
        assertEquals("cannot parse", rejected.get("sluice.dlq.detail"));
        assertEquals("1", rejected.get("sluice.dlq.delivery_count"));
        assertEquals(3, store.stats(List.of("t")).getFirst().groups().getFirst().deadLettered());

        openGroup(store, new GroupRequest("t", "s", GroupMode.SHARED, new GroupConfig(0, 0, "t.dlq", 0, List.of()),
                StartPosition.earliest(), false));
        var lease = new Outcome<LeaseBatch>();
        store.lease("t", "s", "A", 1, lease);
        long held = lease.value().leases().getFirst().sequence();
        assertFalse(terminate(store, "t", "s", "B", held, "not mine"), "only the holder terminates in a shared group");
        assertTrue(terminate(store, "t", "s", "A", held, "mine"));
        assertEquals(4, store.read("t.dlq", 0, 10).size());
        assertEquals("s", store.read("t.dlq", 0, 10).get(3).attributes().get("sluice.dlq.group"));
        var unknown = new Outcome<Boolean>();
        store.terminate("t", "nobody", "", held, "", unknown);
        assertInstanceOf(SluiceException.NotFound.class, unknown.error());
    }

    @Test
    void anAckPassesTheSettledMessagesRightAfterIt() throws Exception {
        Store store = open(dir);
        var seqs = new ArrayList<Long>();
        for (int i = 0; i < 5; i++) {
            seqs.add(append(store, "t", message("m" + i)).getFirst().sequence());
            append(store, "other", message("o" + i));   // the topic's sequences have gaps
        }
        for (String dlq : List.of("t.dlq", "")) {   // dead-lettered, or only settled
            String group = dlq.isEmpty() ? "settles" : "dead-letters";
            openGroup(store, new GroupRequest("t", group, GroupMode.EXCLUSIVE, new GroupConfig(0, 0, dlq, 0, List.of()),
                    StartPosition.earliest(), false));
            assertArrayEquals(new int[] {1, 1, 1, 1, 1}, count(store, "t", group, seqs));
            assertTrue(terminate(store, "t", group, "", seqs.get(1), "no"));
            assertTrue(terminate(store, "t", group, "", seqs.get(2), "no"));
            assertTrue(terminate(store, "t", group, "", seqs.get(4), "no"));
            assertEquals(seqs.get(0) - 1, cursorOf(store, "t", group), "m0 is not acknowledged: nothing is passed");

            assertTrue(ack(store, "t", group, seqs.get(0)));
            assertEquals(seqs.get(2), cursorOf(store, "t", group), "the ack of m0 passes m1 and m2, up to m3");
            TopicStats.GroupStats stats = groupStats(store, "t", group);
            assertEquals(2, stats.pending(), "m3, and m4 which is settled but after m3");
            assertArrayEquals(new int[] {2, 0}, count(store, "t", group, seqs.subList(3, 5)),
                    "m3 comes again; m4 never does");

            assertTrue(ack(store, "t", group, seqs.get(3)));
            assertEquals(seqs.get(4), cursorOf(store, "t", group), "the ack of m3 passes m4, the last message");
            stats = groupStats(store, "t", group);
            assertEquals(0, stats.pending());
            assertEquals(0, stats.inFlight());
            assertEquals(0, stats.oldestUnackedAt());
        }
        store.close();
        Store reopened = open(dir);
        assertEquals(seqs.get(4), cursorOf(reopened, "t", "dead-letters"), "the moved cursor is durable");
        assertEquals(seqs.get(4), cursorOf(reopened, "t", "settles"));
    }

    @Test
    void aDeadLetterIsStoredEvenWhenItsDiscardNewTopicIsFullNeverDroppedWhileCounted() throws Exception {
        Store store = open(dir);
        configure(store, "full.dlq", new TopicConfig(0, 0, 1, TopicConfig.Discard.NEW, 0));
        List<Long> seqs = append(store, "t", message("m0"), message("m1"), message("m2")).stream()
                .map(Appended::sequence).toList();
        openGroup(store, new GroupRequest("t", "s", GroupMode.SHARED, new GroupConfig(0, 1, "full.dlq", 0, List.of()),
                StartPosition.earliest(), false));
        var lease = new Outcome<LeaseBatch>();
        store.lease("t", "s", "A", 3, lease);
        assertEquals(seqs, lease.value().leases().stream().map(Lease::sequence).toList());
        assertTrue(terminate(store, "t", "s", "A", seqs.get(0), "first"));
        assertTrue(terminate(store, "t", "s", "A", seqs.get(1), "second"), "the topic holds its limit already");
        var released = new Outcome<Boolean>();
        store.release("t", "s", "A", seqs.get(2), 0, released);
        assertTrue(released.value(), "delivered max_deliveries times: dead-lettered");

        openGroup(store, new GroupRequest("t", "e", GroupMode.EXCLUSIVE, new GroupConfig(0, 1, "full.dlq", 0,
                List.of()), StartPosition.earliest(), false));
        assertArrayEquals(new int[] {1, 1, 1}, count(store, "t", "e", seqs));
        assertArrayEquals(new int[] {0}, count(store, "t", "e", seqs.subList(0, 1)));
        assertTrue(terminate(store, "t", "e", "", seqs.get(1), "third"));

        assertEquals(List.of("m0", "m1", "m2", "m0", "m1"), payloads(store.read("full.dlq", 0, 10)),
                "every dead letter counted is stored, over the topic's max_messages");
        for (TopicStats.GroupStats g : store.stats(List.of("t")).getFirst().groups()) {
            assertEquals(g.group().equals("s") ? 3 : 2, g.deadLettered(), g.group());
        }
        assertEquals(0, store.stats(List.of("full.dlq")).getFirst().discarded());
        assertInstanceOf(SluiceException.TopicFull.class,
                appendWith(store, "full.dlq", OptionalLong.empty(), message("direct")).error(),
                "a publish to it is still refused");
    }

    // ---- retention ----

    @Test
    void discardOldKeepsATopicWithinItsCountAndByteLimitsAtEveryCommit() throws Exception {
        Store store = open(dir);
        var heard = new AtomicLong();
        store.listen(new StoreListener() {
            @Override
            public void discarded(String topic, long removed, long unconsumed) {
                heard.addAndGet(removed);
            }
        });
        assertTrue(configure(store, "count", new TopicConfig(0, 0, 5, TopicConfig.Discard.OLD, 0)).created());
        var sent = new ArrayList<Long>();
        for (int i = 0; i < 4; i++) {
            for (Appended a : append(store, "count", message("c" + i + "a"), message("c" + i + "b"))) {
                sent.add(a.sequence());
            }
            TopicStats stats = store.stats(List.of("count")).getFirst();
            assertEquals(Math.min(5, sent.size()), stats.totalMessages(), "within the limit at every commit");
            assertEquals(sent.get(Math.max(0, sent.size() - 5)), stats.firstSequence());
            assertEquals(sent.getLast(), stats.lastSequence());
        }
        assertEquals(sent.subList(3, 8), sequences(store.read("count", 0, 100)));
        assertEquals(3, store.stats(List.of("count")).getFirst().discarded());
        Await.until("listeners hear of the removals", () -> heard.get() == 3, heard::get);

        configure(store, "bytes", new TopicConfig(0, 30, 0, TopicConfig.Discard.OLD, 0));
        for (int i = 0; i < 5; i++) {
            append(store, "bytes", message("0123456789"));
        }
        TopicStats bytes = store.stats(List.of("bytes")).getFirst();
        assertEquals(3, bytes.totalMessages());
        assertEquals(30, bytes.totalBytes(), "payload and attribute bytes of what is retained");
        assertEquals(2, bytes.discarded());
        append(store, "bytes", message("01234", Map.of("k", "vvvv")));
        assertEquals(30, store.stats(List.of("bytes")).getFirst().totalBytes(), "attributes count too");
    }

    @Test
    void discardNewRefusesAWholeAppendThatWouldGoOverALimitButAnswersItsDuplicates() throws Exception {
        Store store = open(dir);
        configure(store, "n", new TopicConfig(0, 0, 3, TopicConfig.Discard.NEW, 0));
        Appended first = appendWith(store, "n", OptionalLong.empty(), deduped("a", "d1"), message("b")).value()
                .getFirst();
        var over = appendWith(store, "n", OptionalLong.empty(), message("c"), message("d"));
        assertEquals("topic n is full: max_messages=3 (discard policy NEW)",
                assertInstanceOf(SluiceException.TopicFull.class, over.error()).getMessage());
        assertEquals(List.of("a", "b"), payloads(store.read("n", 0, 10)), "nothing of a refused append is stored");
        appendWith(store, "n", OptionalLong.empty(), message("c")).value();
        assertEquals(first.asDuplicate(), appendWith(store, "n", OptionalLong.empty(), deduped("again", "d1")).value()
                .getFirst(), "a duplicate is answered even when the topic is full");
        assertInstanceOf(SluiceException.TopicFull.class,
                appendWith(store, "n", OptionalLong.empty(), message("e")).error());

        configure(store, "nb", new TopicConfig(0, 10, 0, TopicConfig.Discard.NEW, 0));
        append(store, "nb", message("12345"));
        var tooBig = appendWith(store, "nb", OptionalLong.empty(), message("123456"));
        assertEquals("topic nb is full: max_bytes=10 (discard policy NEW)", tooBig.error().getMessage());
        append(store, "nb", message("12345"));
        assertEquals(0, store.stats(List.of("n", "nb")).stream().mapToLong(TopicStats::discarded).sum());
    }

    @Test
    void aMessageLargerThanTheByteLimitIsRefusedUnderEitherPolicy() throws Exception {
        Store store = open(dir);
        for (TopicConfig.Discard policy : TopicConfig.Discard.values()) {
            String topic = "large-" + policy;
            configure(store, topic, new TopicConfig(0, 10, 0, policy, 0));
            append(store, topic, message("1234567890"));
            var refused = appendWith(store, topic, OptionalLong.empty(), message("a"), message("12345678901"));
            assertEquals("topic " + topic + " cannot hold a message of 11 bytes: max_bytes=10",
                    assertInstanceOf(SluiceException.TopicFull.class, refused.error()).getMessage());
            assertEquals(List.of("1234567890"), payloads(store.read(topic, 0, 10)), "nothing stored, nothing removed");
            assertEquals(0, store.stats(List.of(topic)).getFirst().discarded());
        }
    }

    @Test
    void ageRemovesOldMessagesInTheBackgroundAndAnEmptiedTopicKeepsItsLastSequence() throws Exception {
        var wall = new AtomicLong(1_700_000_000_000L);
        Store store = open(dir, StoreOptions.defaults().withClock(wall::get));
        configure(store, "aged", new TopicConfig(10_000, 0, 0, TopicConfig.Discard.NEW, 0));
        append(store, "aged", message("old"));
        wall.addAndGet(8_000);
        long young = append(store, "aged", message("young")).getFirst().sequence();
        wall.addAndGet(7_000);
        Await.until("the message older than 10 s is removed", () -> store.read("aged", 0, 10).size() == 1,
                () -> payloads(store.read("aged", 0, 10)));
        assertEquals(List.of("young"), payloads(store.read("aged", 0, 10)));
        wall.addAndGet(10_000);
        Await.until("the topic is emptied", () -> store.stats(List.of("aged")).getFirst().totalMessages() == 0,
                () -> store.stats(List.of("aged")));
        TopicStats emptied = store.stats(List.of("aged")).getFirst();
        assertEquals(2, emptied.discarded());
        assertEquals(young, store.lastSequence("aged"), "an emptied topic keeps its last sequence");
        assertEquals(young, emptied.lastSequence(), "and shows it in its stats");
        long next = appendWith(store, "aged", OptionalLong.of(young), message("next")).value().getFirst().sequence();
        assertTrue(next > young, "an expectation of the kept last sequence is met");
        store.close();
        Store reopened = open(dir, StoreOptions.defaults().withClock(wall::get));
        assertTrue(reopened.lastSequence("aged") > young, "and so after a restart");
        assertEquals(List.of("next"), payloads(reopened.read("aged", 0, 10)));
    }

    @Test
    void aLoweredLimitIsReachedInChunksAndNewTopicsTakeTheDefaults() throws Exception {
        Store store = open(dir, StoreOptions.defaults().withTopicDefaults(
                new TopicConfig(0, 0, 2, TopicConfig.Discard.OLD, 0)));
        var many = new NewMessage[2_500];
        for (int i = 0; i < many.length; i++) {
            many[i] = message("m" + i);
        }
        configure(store, "big", TopicConfig.unlimited());
        List<Appended> sent = append(store, "big", many);
        configure(store, "big", new TopicConfig(0, 0, 10, TopicConfig.Discard.OLD, 0));
        Await.until("the topic is brought down to its new limit",
                () -> store.stats(List.of("big")).getFirst().totalMessages() == 10, () -> store.stats(List.of("big")));
        TopicStats big = store.stats(List.of("big")).getFirst();
        assertEquals(2_490, big.discarded());
        assertEquals(sent.get(2_490).sequence(), big.firstSequence());
        assertEquals(sent.getLast().sequence(), store.lastSequence("big"));

        append(store, "auto", message("1"), message("2"), message("3"));
        TopicStats auto = store.stats(List.of("auto")).getFirst();
        assertEquals(new TopicConfig(0, 0, 2, TopicConfig.Discard.OLD, 0), auto.config());
        assertEquals(2, auto.totalMessages(), "a topic created by a publish takes the defaults");
    }

    // ---- helpers ----
    private static ConfiguredTopic configure(Store store, String topic, TopicConfig config) {
        var o = new Outcome<ConfiguredTopic>();
        try {
            store.configureTopic(topic, config, o);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return o.value();
    }

    private static int[] count(Store store, String topic, String group, List<Long> sequences) {
        var o = new Outcome<DeliveryCounts>();
        store.countDeliveries(topic, group, sequences, o);
        return o.value().counts();
    }

    private static boolean terminate(Store store, String topic, String group, String holder, long sequence,
                                     String detail) {
        var o = new Outcome<Boolean>();
        try {
            store.terminate(topic, group, holder, sequence, detail, o);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return o.value();
    }

    private static NewMessage deduped(String payload, String dedupId) {
        return new NewMessage(ByteString.copyFromUtf8(payload), Map.of(), dedupId);
    }

    private static Outcome<List<Appended>> appendWith(Store store, String topic, OptionalLong expected,
                                                      NewMessage... messages) {
        var out = new Outcome<List<Appended>>();
        store.append(topic, List.of(messages), expected, WhenFull.WAIT, out);
        out.await(WAIT);
        return out;
    }

    private static GroupSetup openGroup(Store store, GroupRequest request) {
        var o = new Outcome<GroupSetup>();
        try {
            store.openGroup(request, o);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return o.value();
    }


    private static GroupPosition openGroup(Store store, String topic, String group, StartPosition start) {
        var o = new Outcome<GroupPosition>();
        try {
            store.openGroup(topic, group, start, o);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return o.value();
    }

    private static boolean ack(Store store, String topic, String group, long sequence) {
        var o = new Outcome<Boolean>();
        try {
            store.ack(topic, group, sequence, o);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return o.value();
    }

    private static TopicStats.GroupStats groupStats(Store store, String topic, String group) {
        return store.stats(List.of(topic)).getFirst().groups().stream()
                .filter(g -> g.group().equals(group))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no group " + group + " on " + topic));
    }

    private static long cursorOf(Store store, String topic, String group) {
        return store.groupCursors().stream()
                .filter(c -> c.topic().equals(topic) && c.group().equals(group))
                .mapToLong(GroupCursor::cursor)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no group " + group + " on " + topic));
    }
}
