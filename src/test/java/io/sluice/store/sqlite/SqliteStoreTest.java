package io.sluice.store.sqlite;

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
import io.sluice.store.Appended;
import io.sluice.store.CommitObserver;
import io.sluice.store.NewMessage;
import io.sluice.store.Outcome;
import io.sluice.store.StoreOptions;
import io.sluice.store.TopicInfo;
import io.sluice.store.TopicStats;
import io.sluice.store.WhenFull;
import io.sluice.store.WriterGate;
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
import java.util.List;
import java.util.Map;
import java.util.Random;

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

    // ---- resolving ids ----

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
        undo.addAll(UNDO_VERSION_4);
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

    // ---- migrations ----

    @Test
    void eachMigrationIsAppliedExactlyOnceAcrossReopens() throws SQLException {
        for (int i = 0; i < 3; i++) {
            SqliteStore store = open(dir);
            append(store, "t", message("m" + i));
            store.close();
        }
        assertEquals(List.of("m0", "m1", "m2"), payloads(open(dir).read("t", 0, 10)));
        opened.forEach(SqliteStore::close);
        try (Connection c2 = plainConnection(dir.resolve(SqliteStore.FILE_NAME));
             Statement st = c2.createStatement();
             ResultSet rs = st.executeQuery("SELECT version, count(*) FROM schema_migrations GROUP BY version")) {
            var applied = new ArrayList<String>();
            while (rs.next()) {
                applied.add(rs.getInt(1) + "x" + rs.getInt(2));
            }
            assertEquals(List.of("1x1", "2x1", "3x1", "4x1", "5x1", "6x1"), applied, "each migration is applied exactly once");
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
            for (String undo : concat(UNDO_VERSION_5, UNDO_VERSION_4)) {
                st.execute(undo);
            }
            st.execute("ALTER TABLE messages DROP COLUMN pos");
            st.execute("DELETE FROM schema_migrations WHERE version >= 3");
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

    /** Takes a database back to before schema version 4 (retention and dedup). */
    static final List<String> UNDO_VERSION_4 = List.of("DROP TABLE dedup_ids",
            "ALTER TABLE messages DROP COLUMN bstart", "ALTER TABLE topics DROP COLUMN max_age_ms",
            "ALTER TABLE topics DROP COLUMN max_bytes", "ALTER TABLE topics DROP COLUMN max_messages",
            "ALTER TABLE topics DROP COLUMN discard", "ALTER TABLE topics DROP COLUMN dedup_window_ms",
            "ALTER TABLE topics DROP COLUMN discarded", "ALTER TABLE topics DROP COLUMN last_seq",
            "ALTER TABLE topics DROP COLUMN last_pos", "ALTER TABLE topics DROP COLUMN last_bytes",
            "DELETE FROM schema_migrations WHERE version >= 4");

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
    private static final List<String> UNDO_VERSION_5 = List.of("ALTER TABLE consumer_groups DROP COLUMN unsettled",
            "ALTER TABLE consumer_groups DROP COLUMN in_flight", "DELETE FROM schema_migrations WHERE version = 6",
            "DROP TABLE group_deliveries",
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


    private static List<String> concat(List<String> first, List<String> then) {
        var all = new ArrayList<>(first);
        all.addAll(then);
        return all;
    }
}
