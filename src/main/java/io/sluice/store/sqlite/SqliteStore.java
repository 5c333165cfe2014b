package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.CommitObserver;
import io.sluice.store.Completion;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.Footprint;
import io.sluice.store.GroupCursor;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupPosition;
import io.sluice.store.GroupRequest;
import io.sluice.store.ListenerFanOut;
import io.sluice.store.GroupSetup;
import io.sluice.store.LeaseBatch;
import io.sluice.store.NewMessage;
import io.sluice.store.Pending;
import io.sluice.store.Settled;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import io.sluice.store.StoreOptions;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicConfig;
import io.sluice.store.TopicInfo;
import io.sluice.store.TopicStats;
import io.sluice.store.WhenFull;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The SQLite store: one database file in the data directory, in WAL mode with
 * {@code synchronous=FULL}, one writer thread with group commit and a small pool of read-only
 * connections. Opening it applies migrations and checks the database; a damaged one is refused.
 */
public final class SqliteStore implements Store {
    private static final System.Logger LOG = System.getLogger(SqliteStore.class.getName());
    public static final String FILE_NAME = "sluice.db";

    private final DataDirectory directory;
    private final Path file;
    private final ConcurrentHashMap<String, TopicRow> topics;
    private final ListenerFanOut listeners = new ListenerFanOut();
    private final Connection writeConnection;
    private final Writer writer;
    private final ReadPool reads;
    private final TopicReads topicReads;
    private volatile boolean closed;

    private SqliteStore(DataDirectory directory, Path file, Connection writeConnection, ConcurrentHashMap<String, TopicRow> topics,
                        WriteTx tx, StoreOptions options, CommitObserver observer, List<TopicRow> unfinishedPurges)
            throws SQLException {
        this.directory = directory;
        this.file = file;
        this.topics = topics;
        this.writeConnection = writeConnection;
        this.writer = new Writer(writeConnection, tx, options.writeQueue(), options.maxBatch(), listeners, observer,
                options.beforeCommit(), unfinishedPurges, new Reserve(directory.path()));
        this.reads = new ReadPool(options.readers(), () -> Startup.openReadOnly(file));
        this.topicReads = new TopicReads(topics, reads);
    }

    /**
     * Opens (creating if needed) the database in {@code dataDir}: applies migrations, checks
     * integrity, loads topics and starts the writer. Throws {@link SluiceException} with a message
     * naming the file and the problem when the database is damaged or unusable.
     */
    public static SqliteStore open(Path dataDir, StoreOptions options, CommitObserver observer) {
        DataDirectory directory = DataDirectory.open(dataDir);
        try {
            return open(directory, options, observer);
        } catch (RuntimeException e) {
            directory.close();
            throw e;
        }
    }

    private static SqliteStore open(DataDirectory directory, StoreOptions options, CommitObserver observer) {
        Path file = directory.path().resolve(FILE_NAME);
        WalCheck.requireIntactLog(file, directory);   // before SQLite rebuilds the wal-index from what is left
        Connection c = null;
        try {
            c = Startup.openWriter(file, options.maxDatabaseBytes());
            Startup.check(c, file);
            Migrations.apply(c, file.toString());
            long[] state = Startup.loadState(c);
            var topics = Startup.loadTopics(c);
            var unfinishedPurges = Startup.loadPurges(c);
            long nextTopicId = 1 + Math.max(
                    topics.values().stream().mapToLong(t -> t.id).max().orElse(0),
                    unfinishedPurges.stream().mapToLong(t -> t.id).max().orElse(0));
            // Leases granted by an earlier run carry another epoch: their streams are gone (GroupTable).
            long epoch = java.util.concurrent.ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
            var tx = new WriteTx(c, topics, nextTopicId, state[0], state[1], options, epoch);
            var store = new SqliteStore(directory, file, c, topics, tx, options, observer, unfinishedPurges);
            store.writer.start();
            directory.markServing();
            return store;
        } catch (SQLException e) {
            closeQuietly(c);
            int code = StorageErrors.primaryCode(e);
            if (code == StorageErrors.SQLITE_CORRUPT || code == StorageErrors.SQLITE_NOTADB) {
                throw new SluiceException.Corrupted(file + " is damaged or not a Sluice database ("
                        + StorageErrors.describe(e) + "); move it aside or restore it from a backup");
            }
            throw new SluiceException.StorageFailure("cannot open " + file + ": " + StorageErrors.describe(e), e);
        } catch (RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    /** Overload without commit figures. */
    public static SqliteStore open(Path dataDir, StoreOptions options) {
        return open(dataDir, options, (ops, msgs, nanos) -> { });
    }

    /** The database file. */
    public Path file() {
        return file;
    }

    /**
     * The log is copied into the database by the commit that takes it past this many pages, and that
     * commit's publishers, with everyone queued behind it, wait for the copy. SQLite's default of 1,000
     * pages (4 MB) cost 8-13 ms a copy with 1 KiB messages: the p99 of 64 publishers of 1 KiB was
     * 13.4 ms, of 256 21.5 ms. With 250 it was 5.3 and 11.6 ms, with 100 4.3 and 9.7 ms; 100 B
     * messages and fixed-rate latency did not move measurably, BatchPublish of 1,000 lost up to 5% with
     * 100 (make bench, alternating runs). The log file stays near 1 MB instead of 4 MB.
     */
    static final int CHECKPOINT_PAGES = 250;

    @Override
    public boolean append(String topic, List<NewMessage> messages, OptionalLong expectedLastSequence,
                          WhenFull whenFull, Completion<List<Appended>> done) {
        var op = new Append(topic, messages, expectedLastSequence, done);
        switch (whenFull) {
            case WAIT -> {
                try {
                    writer.submit(op);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SluiceException.Unavailable("interrupted while waiting for room in the writer's queue; "
                            + "the broker is stopping");
                }
            }
            case DECLINE -> {
                return writer.trySubmit(op);
            }
            case ACCEPT -> writer.submitPaced(op);
        }
        return true;
    }

    @Override
    public void ensureTopic(String topic, Completion<TopicInfo> done) throws InterruptedException {
        writer.submit(new WriteOp.EnsureTopic(topic, FullDisk.orElse(done,
                () -> new TopicInfo(topic, System.currentTimeMillis()))));
    }

    @Override
    public void openGroup(GroupRequest request, Completion<GroupSetup> done) throws InterruptedException {
        if (request.mode() != GroupMode.EXCLUSIVE || request.replace()) {
            writer.submit(new GroupWrites.Open(request, done));
            return;
        }
        // An exclusive group only records where its reader starts: on a full disk it is answered without
        // being stored (its first acknowledgement that fits creates it). Runs on the writer thread after
        // the failed transaction: the topic's committed state is current.
        writer.submit(new GroupWrites.Open(request, FullDisk.orElse(done, () -> {
            TopicRow row = topics.get(request.topic());
            GroupPosition stored = row == null ? null : reads.query("reading the cursor of group " + request.group(),
                    c -> c.groupPosition(row, request.group()));
            if (stored == null) {
                long cursor = request.start().cursor(lastSequence(request.topic()),
                        millis -> cursorAtTime(request.topic(), millis));
                stored = new GroupPosition(cursor, cursor);
            }
            return new GroupSetup(false, GroupMode.EXCLUSIVE, request.config(), stored);
        })));
    }

    @Override
    public void configureTopic(String topic, TopicConfig config, Completion<ConfiguredTopic> done)
            throws InterruptedException {
        writer.submit(new ConfigureTopic(topic, config, done));
    }

    @Override
    public long cursorAtTime(String topic, long timestampMillis) {
        return topicReads.cursorAtTime(topic, timestampMillis);
    }

    @Override
    public void lease(String topic, String group, String holder, int max, Completion<LeaseBatch> done) {
        writer.submitPaced(new SharedWrites.LeaseOp(topic, group, holder, max, false, done));
    }

    @Override
    public void leaseWhenRoom(String topic, String group, String holder, int max, Completion<LeaseBatch> done) {
        writer.submitPaced(new SharedWrites.LeaseOp(topic, group, holder, max, true, done));
    }

    @Override
    public void settle(String topic, String group, String holder, List<Long> sequences, Completion<Settled> done)
            throws InterruptedException {
        writer.submit(new SharedWrites.Settle(topic, group, holder, sequences, done));
    }

    @Override
    public void release(String topic, String group, String holder, long sequence, long delayMs,
                        Completion<Boolean> done) throws InterruptedException {
        writer.submit(new SharedWrites.OnLease(topic, group, holder, sequence, SharedWrites.Action.RELEASE, delayMs,
                null, done));
    }

    @Override
    public void extend(String topic, String group, String holder, long sequence, Completion<Boolean> done)
            throws InterruptedException {
        writer.submit(new SharedWrites.OnLease(topic, group, holder, sequence, SharedWrites.Action.EXTEND, 0, null,
                done));
    }

    @Override
    public void barrier(Completion<Void> done) throws InterruptedException {
        writer.submit(new WriteOp.Barrier(done));
    }

    @Override
    public void releaseAll(String topic, String group, String holder, Completion<Integer> done) {
        writer.submitPaced(new SharedWrites.ReleaseAll(topic, group, holder, done));
    }

    @Override
    public void terminate(String topic, String group, String holder, long sequence, String detail,
                          Completion<Boolean> done) throws InterruptedException {
        writer.submit(new ExclusiveWrites.Terminate(topic, group, holder, sequence, detail, done));
    }

    @Override
    public void countDeliveries(String topic, String group, List<Long> sequences, Completion<DeliveryCounts> done) {
        writer.submitPaced(new ExclusiveWrites.CountDeliveries(topic, group, sequences, done));
    }

    @Override
    public void ack(String topic, String group, long sequence, Completion<Boolean> done) throws InterruptedException {
        writer.submit(new WriteOp.Ack(topic, group, sequence, done));
    }

    @Override
    public void resetCursor(String topic, String group, long cursor, Completion<Boolean> done)
            throws InterruptedException {
        writer.submit(new WriteOp.ResetCursor(topic, group, cursor, done));
    }

    @Override
    public void deleteGroup(String topic, String group, Completion<Boolean> done) throws InterruptedException {
        writer.submit(new WriteOp.DeleteGroup(topic, group, done));
    }

    @Override
    public void deleteTopic(String topic, Completion<Boolean> done) throws InterruptedException {
        writer.submit(new WriteOp.DeleteTopic(topic, done));
    }

    @Override
    public List<StoredMessage> read(String topic, long after, int limit, long maxBytes) {
        return topicReads.read(topic, after, limit, maxBytes);
    }

    @Override
    public OptionalLong resolve(String topic, String messageId) {
        return topicReads.resolve(topic, messageId);
    }

    @Override
    public long lastSequence(String topic) {
        TopicRow row = topics.get(topic);
        return row == null ? 0 : row.lastSequence;
    }

    @Override
    public boolean exists(String topic) {
        return topics.containsKey(topic);
    }

    @Override
    public List<TopicInfo> topics() {
        return topics.values().stream().map(TopicRow::info).sorted(Comparator.comparing(TopicInfo::name)).toList();
    }

    @Override
    public List<TopicStats> stats(List<String> names) {
        return topicReads.stats(names);
    }

    @Override
    public List<GroupCursor> groupCursors() {
        return reads.query("reading group cursors", ReadConnection::groupCursors);
    }

    @Override
    public void listen(StoreListener listener) {
        listeners.add(listener);
    }

    @Override
    public int pendingWrites() {
        return writer.queueDepth();
    }

    /**
     * Sets SQLite's page limit while the broker runs, as freeing disk space would: writes refused
     * as "disk full" under the old limit fit again, with no restart. Runs on the writer thread
     * between transactions; blocks until it has. SQLite never sets the limit below the database's
     * current size; the limit in force is returned. It lasts until the store is closed (the
     * configured {@link StoreOptions#maxDatabaseBytes()} applies again at the next start).
     */
    public long setMaxPageCount(long pages) throws InterruptedException {
        if (pages < 1) {
            throw new IllegalArgumentException("the page limit must be positive, not " + pages);
        }
        var done = new Pending<Long>();
        writer.submit(new WriteOp.SetMaxPageCount(writeConnection, pages, done));
        return done.await();
    }

    /** The database file and its write-ahead log. */
    @Override
    public Footprint footprint() {
        return new Footprint(sizeOf(file), sizeOf(Path.of(file + "-wal")));
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            writer.close();
            reads.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            directory.markStopping();   // closing the last connection folds the log into the database, removing it
            writer.releaseReserve();    // room for that, on a full disk
            closeQuietly(writeConnection);
            keepLogIfUnfolded();
            directory.close();
        }
        LOG.log(Level.INFO, "storage closed: " + file);
    }

    /**
     * After the last connection closed: a log still there was not folded into the database (a full disk,
     * or another process holding the file open), so the database alone is not the whole state. The lock
     * file says so (the next start insists on the log, as after a crash) and a warning tells the
     * operator, whose stopped backup must then copy the log too.
     */
    private void keepLogIfUnfolded() {
        Path wal = Path.of(file + "-wal");
        long size;
        try {
            size = Files.size(wal);
        } catch (IOException e) {
            return;   // no log: the database is the whole state
        }
        if (size == 0) {
            return;
        }
        directory.markLogUnfolded();
        LOG.log(Level.WARNING, "the write-ahead log " + wal + " (" + size + " bytes) could not be folded into " + file
                + " at stop (a full disk, or another process holding the database open): " + file + " alone is not "
                + "the whole state; keep the log beside it (a backup copies both); the next start folds it");
    }

    private static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "closing the database: " + StorageErrors.describe(e));
        }
    }
}
