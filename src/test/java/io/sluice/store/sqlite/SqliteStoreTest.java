package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.CommitObserver;
import io.sluice.store.Completion;
import io.sluice.store.GroupPosition;
import io.sluice.store.NewMessage;
import io.sluice.store.StartPosition;
import io.sluice.store.StoreListener;
import io.sluice.store.StoreOptions;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicInfo;
import io.sluice.store.TopicStats;
import io.sluice.store.WhenFull;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** The real SQLite store in a temporary directory: what it stores, what it refuses, how it fails. */
class SqliteStoreTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final Path FIXTURES = Path.of(System.getProperty("basedir", ".")).resolve("test-data");

    @TempDir
    Path dir;

    /** Stores opened by a test, closed after it (close is idempotent). */
    private final List<SqliteStore> opened = new ArrayList<>();

    @AfterEach
    void closeStores() {
        opened.forEach(SqliteStore::close);
    }

    // ---- append and read ----

    @Test
    void appendedMessagesReadBackIntactAndInOrder() {
        SqliteStore store = open(dir);
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
    }

    @Test
    void readStartsAfterTheGivenSequenceAndRespectsTheLimit() {
        SqliteStore store = open(dir);
        var seqs = new ArrayList<Long>();
        for (int i = 0; i < 10; i++) {
            seqs.add(append(store, "t", message("t-" + i)).getFirst().sequence());
            append(store, "other", message("other-" + i));   // interleaved: sequences in t have gaps
        }

        List<StoredMessage> page = store.read("t", seqs.get(3), 3);

        assertEquals(List.of(seqs.get(4), seqs.get(5), seqs.get(6)), sequences(page));
        assertEquals(List.of("t-4", "t-5", "t-6"), payloads(page));
        assertEquals(10, store.read("t", 0, 1000).size(), "a limit above the count returns all");
        assertEquals(1, store.read("t", 0, 1).size());
        assertEquals(List.of(), store.read("t", seqs.getLast(), 10), "nothing after the last sequence");
        assertEquals(List.of(), store.read("t", 0, 0), "limit 0 reads nothing");
        assertEquals(List.of(), store.read("unknown", 0, 10), "an unknown topic reads empty");
    }

    // ---- resolving ids ----

    @Test
    void resolveFindsTheSequenceOfAnIdOnlyInItsOwnTopic() {
        SqliteStore store = open(dir);
        Appended first = append(store, "a", message("a1")).getFirst();
        Appended second = append(store, "a", message("a2")).getFirst();
        Appended other = append(store, "b", message("b1")).getFirst();

        assertEquals(OptionalLong.of(first.sequence()), store.resolve("a", first.id().toString()));
        assertEquals(OptionalLong.of(second.sequence()), store.resolve("a", second.id().toString()));
        assertEquals(OptionalLong.of(other.sequence()), store.resolve("b", other.id().toString()));

        assertEquals(OptionalLong.empty(), store.resolve("a", other.id().toString()), "an id of another topic");
        assertEquals(OptionalLong.empty(), store.resolve("b", first.id().toString()), "an id of another topic");
        assertEquals(OptionalLong.empty(), store.resolve("missing", first.id().toString()), "an unknown topic");
        // A well-formed UUIDv7 naming a stored sequence, but not the id stored there.
        UUID forged = sameSequenceDifferentId(first.id());
        assertEquals(OptionalLong.empty(), store.resolve("a", forged.toString()), "a forged id: " + forged);
        UUID random = randomUuidV7(new Random(7));
        assertEquals(OptionalLong.empty(), store.resolve("a", random.toString()), "a random UUIDv7: " + random);
        for (String garbage : new String[] {"", "not-an-id", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
                UUID.randomUUID().toString(), first.id().toString() + "0", first.id().toString().substring(1)}) {
            assertEquals(OptionalLong.empty(), store.resolve("a", garbage), "garbage id \"" + garbage + "\"");
        }
        assertEquals(OptionalLong.empty(), store.resolve("a", null), "a null id");
    }

    // ---- checksums ----

    @Test
    void alteredPayloadIsReportedAsCorruptedNamingItsSequence() throws SQLException {
        SqliteStore store = open(dir);
        Appended before = append(store, "t", message("intact before")).getFirst();
        Appended victim = append(store, "t", message("this payload will be altered on disk")).getFirst();
        Appended after = append(store, "t", message("intact after")).getFirst();

        try (Connection c = plainConnection(store.file())) {
            byte[] payload;
            try (var select = c.prepareStatement("SELECT payload FROM messages WHERE seq = ?")) {
                select.setLong(1, victim.sequence());
                try (ResultSet rs = select.executeQuery()) {
                    assertTrue(rs.next(), "the victim row exists");
                    payload = rs.getBytes(1);
                }
            }
            payload[5] ^= 0x01;   // one bit flipped; the stored crc is left as it was
            try (var update = c.prepareStatement("UPDATE messages SET payload = ? WHERE seq = ?")) {
                update.setBytes(1, payload);
                update.setLong(2, victim.sequence());
                assertEquals(1, update.executeUpdate());
            }
        }

        assertEquals(List.of(before.sequence()), sequences(store.read("t", 0, 10)),
                "a read over the altered message answers the intact ones before it, and stops there");
        var e = assertThrows(SluiceException.Corrupted.class, () -> store.read("t", before.sequence(), 10),
                "a read starting at the altered message must not serve it");
        assertTrue(e.getMessage().contains("message " + victim.sequence()), "names the sequence: " + e.getMessage());
        assertEquals(List.of(before.sequence()), sequences(store.read("t", 0, 1)), "messages before it still read");
        assertEquals(List.of(after.sequence()), sequences(store.read("t", victim.sequence(), 10)),
                "messages after it still read");
    }

    // ---- failed commits ----

    @Test
    void failedCommitFailsEveryCallerOfItsBatchAndTheStoreRecovers() throws Exception {
        // 48 pages of 4 KiB: room for the schema and small messages, not for 40 x 8 KiB.
        SqliteStore store = open(dir, StoreOptions.defaults().withMaxDatabaseBytes(48 * 4096L), (o, m, n) -> { });
        var gate = new WriterGate("gate");
        store.listen(gate);
        var committed = new ArrayList<String>();
        byte[] payload = new byte[8 * 1024];
        new Random(1).nextBytes(payload);

        // Twice: the second round shows the writer is still transactional after a failed commit.
        for (int round = 0; round < 2; round++) {
            gate.arm();
            append(store, "gate", message("holds the writer, round " + round));
            gate.awaitHeld();

            var big = new ArrayList<Outcome<List<Appended>>>();
            for (int i = 0; i < 40; i++) {
                var o = new Outcome<List<Appended>>();
                store.append(i % 2 == 0 ? "t" : "new-topic", List.of(message(ByteString.copyFrom(payload), Map.of())), WhenFull.WAIT,
                        o);
                big.add(o);
            }
            assertEquals(40, store.pendingWrites(), "all big appends wait for the writer together");
            gate.release();

            for (int i = 0; i < big.size(); i++) {
                SluiceException error = big.get(i).error();
                assertInstanceOf(SluiceException.DiskFull.class, error, "caller " + i + " of the failed batch");
                assertTrue(error.getMessage().contains("full"), "names the cause: " + error.getMessage());
            }
            assertEquals(committed, payloads(store.read("t", 0, 1000)), "nothing of the failed batch is readable");
            assertFalse(store.exists("new-topic"), "a topic created by the failed batch does not exist");

            String after = "fits after the failure, round " + round;
            append(store, "t", message(after));
            committed.add(after);
            assertEquals(committed, payloads(store.read("t", 0, 1000)), "the store writes again without a restart");
        }
        assertEquals(List.of("gate", "t"), store.topics().stream().map(TopicInfo::name).toList());

        store.close();
        SqliteStore reopened = open(dir);
        assertEquals(committed, payloads(reopened.read("t", 0, 1000)),
                "after a restart too, exactly the committed messages exist");
        assertFalse(reopened.exists("new-topic"));
    }

    @Test
    void tryAppendQueuesWhileThereIsRoomAndRefusesWithoutQueuingWhenFull() throws Exception {
        SqliteStore store = open(dir, StoreOptions.defaults().withWriteQueue(3), (o, m, n) -> { });
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
        assertFalse(store.append("t", List.of(message("no room")), WhenFull.DECLINE, refused), "a full queue refuses");
        assertEquals(3, store.pendingWrites(), "the refused write was not queued");
        gate.release();

        for (var o : taken) {
            o.value();
        }
        assertFalse(refused.await(Duration.ofMillis(200)), "the refused write is never answered: it was not taken");
        var later = new Outcome<List<Appended>>();
        assertTrue(store.append("t", List.of(message("m3")), WhenFull.DECLINE, later), "room again once the writer drained");
        later.value();
        assertEquals(List.of("m0", "m1", "m2", "m3"), payloads(store.read("t", 0, 10)));
    }

    @Test
    void closedStoreRefusesWritesAndReadsAsUnavailable() {
        SqliteStore store = open(dir);
        append(store, "t", message("before close"));
        store.close();

        var o = new Outcome<List<Appended>>();
        store.append("t", List.of(message("after close")), WhenFull.WAIT, o);
        assertInstanceOf(SluiceException.Unavailable.class, o.error());
        assertThrows(SluiceException.Unavailable.class, () -> store.read("t", 0, 10));
    }

    @Test
    void closeCompletesEveryWriteQueuedBeforeOrDuringIt() throws Exception {
        // A tiny queue keeps appenders blocked in the queue while close() queues its stop marker,
        // so some of them land behind it: each must still be told an outcome, never left waiting.
        for (int round = 0; round < 10; round++) {
            Path data = dir.resolve("round-" + round);
            SqliteStore store = open(data, StoreOptions.defaults().withWriteQueue(2), (o, m, n) -> { });
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
                t.join(WAIT.plusSeconds(5).toMillis());
                assertFalse(t.isAlive(), t.getName() + " still waits for an outcome");
            }
            assertEquals(0, unanswered.get(), "appends never completed nor failed after close (round " + round + ")");
            assertTrue(unexpected.isEmpty(), "failures other than Unavailable: " + unexpected);

            SqliteStore reopened = open(data);
            var found = new ConcurrentHashMap<Long, String>();
            for (TopicInfo topic : reopened.topics()) {
                reopened.read(topic.name(), 0, 100_000).forEach(m -> found.put(m.sequence(), m.payload().toStringUtf8()));
            }
            acked.forEach((seq, payload) -> assertEquals(payload, found.get(seq), "acknowledged message " + seq));
            reopened.close();
        }
    }

    // ---- startup checks ----

    @Test
    void damagedDatabaseIsRefusedAtStartupNamingTheFile() throws IOException {
        SqliteStore store = open(dir);
        for (int i = 0; i < 60; i++) {
            append(store, i % 2 == 0 ? "a" : "b", message("x".repeat(300) + i));
        }
        Path file = store.file();
        store.close();
        assertFalse(Files.exists(Path.of(file + "-wal")) && sizeOf(Path.of(file + "-wal")) > 0,
                "a clean close leaves everything in the main file");

        int pageSize = 4096;
        long pages = Files.size(file) / pageSize;
        assertTrue(pages >= 8, "the database has pages to damage: " + pages);
        long offset = pages / 2 * pageSize;
        try (var f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int pageType = f.read();
            assertTrue(pageType == 0x02 || pageType == 0x05 || pageType == 0x0A || pageType == 0x0D,
                    "the middle page is a b-tree page (type " + pageType + ")");
            byte[] garbage = new byte[64];
            Arrays.fill(garbage, (byte) 0xFF);
            f.seek(offset);
            f.write(garbage);
        }

        var e = assertThrows(SluiceException.class, () -> open(dir));
        assertRefusal(e, file);
    }

    @Test
    void fileThatIsNotADatabaseIsRefusedNamingTheFile() throws IOException {
        Path file = dir.resolve(SqliteStore.FILE_NAME);
        Files.writeString(file, "this is a shopping list, not a database\n".repeat(200));

        var e = assertThrows(SluiceException.class, () -> open(dir));
        assertRefusal(e, file.toAbsolutePath());
    }

    @Test
    void damagedDatabaseFixtureIsRefusedAndLeftAsItWas() throws IOException {
        Path fixture = FIXTURES.resolve("damaged-btree.db");
        Path file = dir.resolve(SqliteStore.FILE_NAME);
        Files.copy(fixture, file, StandardCopyOption.REPLACE_EXISTING);
        file.toFile().setWritable(true);
        byte[] original = Files.readAllBytes(file);
        assertArrayEquals("SQLite format 3\0".getBytes(StandardCharsets.US_ASCII), Arrays.copyOf(original, 16),
                "the fixture is a real SQLite database, damaged inside");

        var e = assertThrows(SluiceException.class, () -> open(dir));
        assertRefusal(e, file.toAbsolutePath());
        assertArrayEquals(original, Files.readAllBytes(file), "a refused database is not modified");
    }

    // ---- stats ----

    @Test
    void statsStayExactWhenCountedOnlySinceTheLastCall() throws Exception {
        SqliteStore store = open(dir);
        var sequences = new ArrayList<Long>();   // of topic t, interleaved with u's
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 10; i++) {
                sequences.add(append(store, "t", message("t")).getFirst().sequence());
                append(store, "u", message("u1"), message("u2"));
            }
            // Cursors: before everything, near the start, near the end, at the last message.
            var cursors = Map.of("none", 0L, "early", sequences.get(2), "late", sequences.get(sequences.size() - 3),
                    "done", sequences.getLast());
            for (var c : cursors.entrySet()) {
                var reset = new Outcome<Boolean>();
                store.resetCursor("t", c.getKey(), c.getValue(), reset);
                reset.value();
            }
            TopicStats s = store.stats(List.of("t")).getFirst();
            assertEquals(sequences.size(), s.totalMessages(), "round " + round);
            assertEquals(sequences.getFirst(), s.firstSequence());
            assertEquals(sequences.getLast(), s.lastSequence());
            for (TopicStats.GroupStats g : s.groups()) {
                long expected = sequences.stream().filter(q -> q > g.cursor()).count();
                assertEquals(expected, g.pending(), "round " + round + ", group " + g.group());
            }
        }

        var deleted = new Outcome<Boolean>();
        store.deleteTopic("t", deleted);
        assertTrue(deleted.value());
        append(store, "t", message("again"));
        assertEquals(1, store.stats(List.of("t")).getFirst().totalMessages(), "a new topic of the name counts anew");
        assertEquals(60, store.stats(List.of("u")).getFirst().totalMessages());
    }

    // ---- the log ----

    @Test
    void theLogIsCopiedIntoTheDatabaseLongBeforeSqliteWouldByItself() throws IOException {
        SqliteStore store = open(dir);
        String kib = "x".repeat(1024);
        for (int i = 0; i < 2_000; i++) {   // one commit each: about two log pages per commit
            append(store, "t", message(kib + i));
        }
        long frame = 24 + 4096;   // a log frame: its header and one page
        long wal = Files.size(Path.of(store.file() + "-wal"));
        assertTrue(wal <= (SqliteStore.CHECKPOINT_PAGES + 10) * frame, "the log grew to " + wal + " bytes, more "
                + "than " + SqliteStore.CHECKPOINT_PAGES + " pages: each copy into the database makes every "
                + "publish meanwhile wait, and it grows with the log (SQLite's own default is 1,000 pages)");
        assertEquals(2_000, store.read("t", 0, 3_000).size());
    }

    // ---- deleting a topic ----

    @Test
    void deletingABigTopicAnswersAtOnceAndItsMessagesGoAChunkPerTransaction() throws Exception {
        SqliteStore store = open(dir);
        appendMany(store, "big", 60_000);
        Appended kept = append(store, "kept", message("stays")).getFirst();

        var deleted = new Outcome<Boolean>();
        store.deleteTopic("big", deleted);
        assertTrue(deleted.value());
        assertEquals(List.of("kept"), store.topics().stream().map(TopicInfo::name).toList(), "gone at once");
        append(store, "kept", message("published while the purge runs"));
        long left = orphans(store.file());
        assertTrue(left > 0, "a publish after the delete did not wait for the whole purge, which goes a chunk at a "
                + "time (" + left + " messages left when it was answered)");

        Appended again = append(store, "big", message("a new topic of the same name")).getFirst();
        assertEquals(List.of("a new topic of the same name"), payloads(store.read("big", 0, 100)),
                "a topic created again sees none of the old messages");
        assertTrue(again.sequence() > kept.sequence());
        awaitPurged(store.file());
        assertEquals(List.of("stays", "published while the purge runs"), payloads(store.read("kept", 0, 10)));
    }

    @Test
    void aPurgeCutShortByAStopResumesAtTheNextStartAndNoNewTopicTakesItsId() throws Exception {
        SqliteStore first = open(dir);
        append(first, "early", message("one"));
        appendMany(first, "doomed", 20_000);   // the newest topic: the highest id
        var deleted = new Outcome<Boolean>();
        first.deleteTopic("doomed", deleted);
        assertTrue(deleted.value());
        first.close();
        Path file = dir.resolve(SqliteStore.FILE_NAME);
        assertTrue(orphans(file) > 0, "the stop came before the purge ended");

        SqliteStore second = open(dir);
        append(second, "fresh", message("new"));
        assertEquals(List.of("new"), payloads(second.read("fresh", 0, 100)),
                "a topic created meanwhile does not take the deleted topic's id, so not its messages either");
        awaitPurged(file);
        assertEquals(List.of("new"), payloads(second.read("fresh", 0, 100)));
        assertEquals(List.of("one"), payloads(second.read("early", 0, 100)));
    }

    @Test
    void aDatabaseOfSchemaVersionOneIsUpgradedAndDeletesTopicsTheNewWay() throws Exception {
        var undo = new ArrayList<>(UNDO_VERSION_5);
        undo.addAll(List.of("ALTER TABLE messages DROP COLUMN pos", "DROP TABLE purges",
                "DELETE FROM schema_migrations WHERE version >= 2"));
        Path file = storedThenAltered("t", "from version 1", undo.toArray(String[]::new));

        SqliteStore second = open(dir);
        assertEquals(List.of("from version 1"), payloads(second.read("t", 0, 10)));
        var deleted = new Outcome<Boolean>();
        second.deleteTopic("t", deleted);
        assertTrue(deleted.value());
        awaitPurged(file);
    }

    // ---- the data directory ----

    @Test
    void aSecondStoreOnTheSameDirectoryIsRefusedNamingTheDirectoryAndItsHolder() {
        SqliteStore first = open(dir);
        append(first, "t", message("kept"));

        var e = assertThrows(SluiceException.Unavailable.class, () -> open(dir));
        assertTrue(e.getMessage().contains(dir.toAbsolutePath().normalize().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid()), "names the holder: "
                + e.getMessage());
        assertEquals(List.of("kept"), payloads(first.read("t", 0, 10)), "the first one goes on");
        append(first, "t", message("after"));

        first.close();
        SqliteStore second = open(dir);   // the lock went with the first store
        assertEquals(List.of("kept", "after"), payloads(second.read("t", 0, 10)));
    }

    @Test
    void aFileWhereTheDataDirectoryShouldBeIsNamedAsSuch() throws IOException {
        Path notADirectory = Files.writeString(dir.resolve("plain-file"), "x");
        var e = assertThrows(SluiceException.class, () -> open(notADirectory));
        assertTrue(e.getMessage().contains(notADirectory.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
    }

    // ---- limits ----

    @Test
    void aTopicTakesNewGroupsUpToItsLimitAndTheRefusalFailsNothingElse() throws Exception {
        SqliteStore store = open(dir, StoreOptions.defaults().withMaxGroupsPerTopic(3),
                (ops, messages, nanos) -> { });
        Appended m = append(store, "t", message("one")).getFirst();
        for (String g : List.of("a", "b", "c")) {
            var opened = new Outcome<GroupPosition>();
            store.openGroup("t", g, StartPosition.earliest(), opened);
            opened.value();
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
        var otherTopic = new Outcome<GroupPosition>();
        store.openGroup("u", "d", StartPosition.earliest(), otherTopic);
        otherTopic.value();
    }

    // ---- migrations ----

    @Test
    void reopeningAnExistingDatabaseKeepsItsDataAndSequences() throws SQLException {
        SqliteStore first = open(dir);
        Appended a = append(first, "t", message("one", Map.of("k", "v"))).getFirst();
        Appended b = append(first, "u", message("two")).getFirst();
        first.close();

        SqliteStore second = open(dir);
        assertEquals(List.of("t", "u"), second.topics().stream().map(TopicInfo::name).toList());
        assertEquals(List.of(a.sequence()), sequences(second.read("t", 0, 10)));
        assertEquals(Map.of("k", "v"), second.read("t", 0, 10).getFirst().attributes());
        assertEquals(OptionalLong.of(b.sequence()), second.resolve("u", b.id().toString()));
        Appended c = append(second, "t", message("three")).getFirst();
        assertTrue(c.sequence() > b.sequence(), "sequences continue after a reopen, never reused");
        second.close();

        SqliteStore third = open(dir);
        assertEquals(List.of("one", "three"), payloads(third.read("t", 0, 10)));
        third.close();
        try (Connection c2 = plainConnection(dir.resolve(SqliteStore.FILE_NAME));
             Statement st = c2.createStatement();
             ResultSet rs = st.executeQuery("SELECT version, count(*) FROM schema_migrations GROUP BY version")) {
            var applied = new ArrayList<String>();
            while (rs.next()) {
                applied.add(rs.getInt(1) + "x" + rs.getInt(2));
            }
            assertEquals(List.of("1x1", "2x1", "3x1", "5x1"), applied, "each migration is applied exactly once");
        }
    }

    @Test
    void aDatabaseOfSchemaVersionTwoGetsPositionsAndCountsWithoutScanning() throws Exception {
        SqliteStore first = open(dir);
        for (int i = 0; i < 50; i++) {
            append(first, "a", message("a" + i));
            if (i == 29) {
                append(first, "b", message("b1"));
            }
        }
        Appended b2 = append(first, "b", message("b2")).getFirst();
        var reset = new Outcome<Boolean>();
        first.resetCursor("a", "g", first.read("a", 0, 10).getLast().sequence(), reset);
        assertTrue(reset.value());
        first.close();
        try (Connection c = plainConnection(dir.resolve(SqliteStore.FILE_NAME)); Statement st = c.createStatement()) {
            for (String sql : UNDO_VERSION_5) {
                st.execute(sql);
            }
            st.execute("ALTER TABLE messages DROP COLUMN pos");
            st.execute("DELETE FROM schema_migrations WHERE version = 3");
        }

        SqliteStore second = open(dir);
        TopicStats a = second.stats(List.of("a")).getFirst();
        assertEquals(50, a.totalMessages());
        assertEquals(40, a.groups().getFirst().pending(), "50 messages, the cursor after the 10th");
        assertEquals(2, second.stats(List.of("b")).getFirst().totalMessages());
        Appended b3 = append(second, "b", message("b3")).getFirst();
        assertTrue(b3.sequence() > b2.sequence());
        assertEquals(3, second.stats(List.of("b")).getFirst().totalMessages(), "positions continue after the upgrade");
    }

    @Test
    void databaseOfANewerSchemaIsRefusedSayingSo() throws SQLException {
        Path file = storedThenAltered("t", "written by this build",
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (99, 'from a future build', 0)");

        var e = assertThrows(SluiceException.class, () -> open(dir));
        assertTrue(e.getMessage().contains("99"), "names the version found: " + e.getMessage());
        assertTrue(e.getMessage().contains("newer than this build"), "says it is newer: " + e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
    }

    // ---- helpers ----

    private SqliteStore open(Path data) {
        return open(data, StoreOptions.defaults(), (ops, messages, nanos) -> { });
    }

    private SqliteStore open(Path data, StoreOptions options, CommitObserver observer) {
        SqliteStore store = SqliteStore.open(data, options, observer);
        opened.add(store);
        return store;
    }

    private static void assertRefusal(SluiceException e, Path file) {
        assertTrue(e instanceof SluiceException.Corrupted || e instanceof SluiceException.StorageFailure,
                "refused as damaged or unusable, not " + e);
        assertTrue(e.getMessage().contains(file.toString()), "names the file " + file + ": " + e.getMessage());
    }

    private static List<Appended> append(SqliteStore store, String topic, NewMessage... messages) {
        var o = new Outcome<List<Appended>>();
        store.append(topic, List.of(messages), WhenFull.WAIT, o);
        return o.value();
    }

    private static NewMessage message(String payload) {
        return message(ByteString.copyFromUtf8(payload), Map.of());
    }

    private static NewMessage message(String payload, Map<String, String> attributes) {
        return message(ByteString.copyFromUtf8(payload), attributes);
    }

    private static NewMessage message(ByteString payload, Map<String, String> attributes) {
        return new NewMessage(payload, attributes);
    }

    private static List<Long> sequences(List<StoredMessage> messages) {
        return messages.stream().map(StoredMessage::sequence).toList();
    }

    private static List<String> payloads(List<StoredMessage> messages) {
        return messages.stream().map(m -> m.payload().toStringUtf8()).toList();
    }

    private static void appendMany(SqliteStore store, String topic, int count) {
        var batch = new ArrayList<NewMessage>();
        for (int i = 0; i < 1_000; i++) {
            batch.add(message(topic + " " + i));
        }
        for (int i = 0; i < count / batch.size(); i++) {
            append(store, topic, batch.toArray(NewMessage[]::new));
        }
    }

    /** Messages left of deleted topics. */
    private static long orphans(Path file) throws SQLException {
        try (Connection c = plainConnection(file); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM messages WHERE topic_id NOT IN (SELECT id FROM topics)")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Waits until no message of a deleted topic is left and the purge's entry is gone with the last of them. */
    private static void awaitPurged(Path file) {
        Await.until("the purge ends", () -> count(file, "SELECT count(*) FROM messages WHERE topic_id NOT IN "
                + "(SELECT id FROM topics)") == 0 && count(file, "SELECT count(*) FROM purges") == 0);
    }

    private static long count(Path file, String query) {
        try (Connection c = plainConnection(file); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }


    /** Stores one message in a new database, closes it, then runs {@code statements} on the file directly. */
    /** What takes a database of this build back to before migration 5 (shared groups), to test older ones. */
    private static final List<String> UNDO_VERSION_5 = List.of("DROP TABLE group_deliveries",
            "ALTER TABLE consumer_groups DROP COLUMN mode", "ALTER TABLE consumer_groups DROP COLUMN ack_wait_ms",
            "ALTER TABLE consumer_groups DROP COLUMN max_deliveries",
            "ALTER TABLE consumer_groups DROP COLUMN dead_letter_topic",
            "ALTER TABLE consumer_groups DROP COLUMN max_in_flight", "ALTER TABLE consumer_groups DROP COLUMN backoff_ms",
            "ALTER TABLE consumer_groups DROP COLUMN dead_lettered", "ALTER TABLE consumer_groups DROP COLUMN redelivered",
            "DELETE FROM schema_migrations WHERE version = 5");

    private Path storedThenAltered(String topic, String payload, String... statements) throws SQLException {
        SqliteStore store = open(dir);
        append(store, topic, message(payload));
        Path file = store.file();
        store.close();
        try (Connection c = plainConnection(file); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.executeUpdate(sql);
            }
        }
        return file;
    }

    private static Connection plainConnection(Path file) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
        try (Statement st = c.createStatement()) {
            st.execute("PRAGMA busy_timeout = 10000");
        }
        return c;
    }

    private static long sizeOf(Path p) throws IOException {
        return Files.size(p);
    }

    /** A UUIDv7 whose timestamp and sequence bits equal {@code id}'s, its random bits different. */
    private static UUID sameSequenceDifferentId(UUID id) {
        long msb = id.getMostSignificantBits() ^ 0x0001L;   // flips one of the 12 random bits
        UUID forged = new UUID(msb, id.getLeastSignificantBits());
        assertEquals(7, forged.version());
        assertEquals(2, forged.variant());
        return forged;
    }

    private static UUID randomUuidV7(Random random) {
        long msb = (System.currentTimeMillis() << 16) | 0x7000L | random.nextInt(1 << 12);
        long lsb = 0x8000_0000_0000_0000L | (random.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL);
        return new UUID(msb, lsb);
    }

    /**
     * Holds the writer thread once it has committed an append to the gate's topic, so that the test
     * can queue writes that the writer then drains into one transaction. The writer tells its
     * listeners after completing the commit's callers, on its own thread: keying on a topic (not
     * on "the next commit") keeps an earlier commit's late notification from closing the gate.
     */
    static final class WriterGate implements StoreListener {
        private final String topic;
        private final AtomicBoolean armed = new AtomicBoolean();
        private volatile CountDownLatch held = new CountDownLatch(1);
        private volatile CountDownLatch released = new CountDownLatch(1);

        WriterGate(String topic) {
            this.topic = topic;
        }

        /** Catch the writer after the next append to the gate's topic. */
        void arm() {
            held = new CountDownLatch(1);
            released = new CountDownLatch(1);
            armed.set(true);
        }

        void awaitHeld() throws InterruptedException {
            assertTrue(held.await(WAIT.toSeconds(), TimeUnit.SECONDS), "the writer reached the gate");
        }

        void release() {
            released.countDown();
        }

        @Override
        public void appended(String appendedTopic, long lastSequence) {
            if (appendedTopic.equals(topic) && armed.compareAndSet(true, false)) {
                held.countDown();
                try {
                    released.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** A completion the test waits on with a deadline, never forever. */
    static final class Outcome<T> implements Completion<T> {
        private final CountDownLatch done = new CountDownLatch(1);
        private volatile T result;
        private volatile SluiceException failure;

        @Override
        public void committed(T value) {
            result = value;
            done.countDown();
        }

        @Override
        public void failed(SluiceException error) {
            failure = error;
            done.countDown();
        }

        boolean await(Duration timeout) {
            try {
                return done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        T result() {
            return result;
        }

        SluiceException failure() {
            return failure;
        }

        /** The committed result; fails the test when the write failed or was never answered. */
        T value() {
            assertTrue(await(WAIT), "the write was answered within " + WAIT);
            if (failure != null) {
                throw new AssertionError("the write failed: " + failure, failure);
            }
            assertNotNull(result);
            return result;
        }

        /** The failure; fails the test when the write committed or was never answered. */
        SluiceException error() {
            assertTrue(await(WAIT), "the write was answered within " + WAIT);
            assertNotNull(failure, "the write was expected to fail but committed: " + result);
            return failure;
        }
    }
}
