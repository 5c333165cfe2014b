package io.sluice.store.postgres;

import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.CommitObserver;
import io.sluice.store.Completion;
import io.sluice.store.Footprint;
import io.sluice.store.GroupCursor;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.LeaseBatch;
import io.sluice.store.ListenerFanOut;
import io.sluice.store.Settled;
import io.sluice.store.TopicConfig;
import io.sluice.store.NewMessage;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import io.sluice.store.StoreOptions;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicInfo;
import io.sluice.store.TopicStats;
import io.sluice.store.WhenFull;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.OptionalLong;

/**
 * The PostgreSQL store: the broker's state lives in one database (or one schema of it), shared by
 * any number of brokers. One writer thread per broker with group commit ({@link PgWriter}), reads
 * on a small pool of platform threads ({@link PgReads}), forward-only migrations at open
 * ({@link PgMigrations}). Sequences are handed out by a counter row that every write transaction
 * updates first, so sequence order is commit order across brokers (see {@link PgWriteTx}).
 *
 * <p>Nothing of the database is cached here: every read asks the database, so a broker sees every
 * other broker's commits. Listeners hear of this broker's commits on the writer thread after each
 * commit, and of other brokers' appends, topic deletions, cursor resets, claims of exclusive groups
 * and shared groups' settles on the notification thread ({@link PgNotifications}: a NOTIFY per
 * commit, with a poll once a second as a fallback).
 */
public final class PostgresStore implements Store {
    private static final System.Logger LOG = System.getLogger(PostgresStore.class.getName());

    private final PgConnector connector;
    private final ListenerFanOut fanOut = new ListenerFanOut();
    private final PgResetFences resetFences = new PgResetFences();
    private final PgWriter writer;
    private final PgReads reads;
    private final PgNotifications notifications;
    private final long epoch;
    private volatile boolean closed;

    private PostgresStore(PgConnector connector, String schema, long epoch, StoreOptions options,
                          CommitObserver observer) {
        this.connector = connector;
        this.epoch = epoch;
        this.notifications = new PgNotifications(connector, PgNotifications.channelFor(schema), fanOut, epoch,
                resetFences);
        this.writer = new PgWriter(connector, options.clock(), options.maxGroupsPerTopic(), options.dedupWindowMillis(),
                options.writeQueue(),
                options.maxBatch(), fanOut, observer, options.beforeCommit(), notifications, epoch,
                options.topicDefaults(), resetFences, options.maxTopics());
        fanOut.add(new StoreListener() {   // deleted groups' fences go with them
            @Override
            public void topicDeleted(String topic) {
                resetFences.topicDeleted(topic);
            }

            @Override
            public void cursorReset(String topic, String group, long cursor) {
                if (cursor < 0) {
                    resetFences.groupDeleted(topic, group);
                }
            }
        });
        this.reads = new PgReads(options.readers(), connector);
    }

    /**
     * Connects to the database {@code url} names, checks the server's version and applies the
     * migrations, then starts the writer. Throws {@link SluiceException} naming the database (never
     * its password) and the problem when it cannot.
     */
    public static PostgresStore open(DatabaseUrl url, StoreOptions options, CommitObserver observer) {
        var connector = new PgConnector(url);
        String schema;
        long epoch;
        try (Connection c = connector.open(false)) {
            PgMigrations.requireServerVersion(c, url.display());
            PgMigrations.apply(c, url.display());
            try (var st = c.createStatement(); var rs = st.executeQuery("SELECT current_schema()")) {
                rs.next();
                schema = rs.getString(1);
            }
            c.commit();
            epoch = PgRuns.register(c, options.clock().getAsLong());
        } catch (SQLException e) {
            throw new SluiceException.Unavailable("cannot open the database at " + url.display() + ": "
                    + PgErrors.describe(e));
        }
        var store = new PostgresStore(connector, schema, epoch, options, observer);
        store.writer.start();
        store.notifications.start();
        LOG.log(Level.INFO, "storage: PostgreSQL at " + url.display());
        return store;
    }

    @Override
    public boolean append(String topic, List<NewMessage> messages, OptionalLong expectedLastSequence,
                          WhenFull whenFull, Completion<List<Appended>> done) {
        var op = new PgWriteOp.Append(topic, messages, expectedLastSequence, done);
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
        writer.submit(new PgWriteOp.EnsureTopic(topic, done));
    }

    @Override
    public void configureTopic(String topic, TopicConfig config, Completion<ConfiguredTopic> done)
            throws InterruptedException {
        writer.submit(new PgTopicOps.Configure(topic, config, done));
    }

    /** How many of this store's write transactions were one statement (plain appends to plain topics). */
    long oneStatementTransactions() {
        return writer.oneStatementTransactions();
    }

    @Override
    public long cursorAtTime(String topic, long timestampMillis) {
        return reads.query("finding a time in topic " + topic, c -> PgTopics.cursorAtTime(c, topic, timestampMillis));
    }

    @Override
    public void openGroup(GroupRequest request, Completion<GroupSetup> done) throws InterruptedException {
        writer.submit(new PgGroupOps.Open(request, done));
    }

    @Override
    public void countDeliveries(String topic, String group, List<Long> sequences, Completion<DeliveryCounts> done) {
        countDeliveries(topic, group, NO_CLAIM, sequences, done);
    }

    @Override
    public void countDeliveries(String topic, String group, long claim, List<Long> sequences,
                                Completion<DeliveryCounts> done) {
        writer.submitPaced(new PgGroupOps.CountDeliveries(topic, group, claim, sequences, done));
    }

    @Override
    public void lease(String topic, String group, String holder, int max, Completion<LeaseBatch> done) {
        writer.submitPaced(new PgSharedOps.LeaseOp(topic, group, holder, max, done));
    }

    @Override
    public void settle(String topic, String group, String holder, List<Long> sequences, Completion<Settled> done)
            throws InterruptedException {
        writer.submit(new PgSharedOps.Settle(topic, group, holder, sequences, done));
    }

    @Override
    public void release(String topic, String group, String holder, long sequence, long delayMs,
                        Completion<Boolean> done) throws InterruptedException {
        writer.submit(new PgSharedOps.OnLease(topic, group, holder, sequence, PgSharedOps.Action.RELEASE, delayMs,
                "", done));
    }

    @Override
    public void extend(String topic, String group, String holder, long sequence, Completion<Boolean> done)
            throws InterruptedException {
        writer.submit(new PgSharedOps.OnLease(topic, group, holder, sequence, PgSharedOps.Action.EXTEND, 0, "",
                done));
    }

    @Override
    public void barrier(Completion<Void> done) throws InterruptedException {
        writer.submit(new PgWriteOp.Barrier(done));
    }

    @Override
    public void releaseAll(String topic, String group, String holder, Completion<Integer> done) {
        writer.submitPaced(new PgSharedOps.ReleaseAll(topic, group, holder, done));
    }

    @Override
    public void terminate(String topic, String group, String holder, long sequence, String detail,
                          Completion<Boolean> done) throws InterruptedException {
        writer.submit(new PgGroupOps.Terminate(topic, group, holder, NO_CLAIM, sequence, detail, done));
    }

    @Override
    public void terminate(String topic, String group, long claim, long sequence, String detail,
                          Completion<Boolean> done) throws InterruptedException {
        writer.submit(new PgGroupOps.Terminate(topic, group, null, claim, sequence, detail, done));
    }

    @Override
    public void ack(String topic, String group, long sequence, Completion<Boolean> done) throws InterruptedException {
        ack(topic, group, NO_CLAIM, sequence, done);
    }

    @Override
    public void ack(String topic, String group, long claim, long sequence, Completion<Boolean> done)
            throws InterruptedException {
        long fence = claim == NO_CLAIM ? PgResetFences.NONE : resetFences.fence(topic, group, claim);
        writer.submit(new PgWriteOp.Ack(topic, group, claim, fence, sequence, done));
    }

    @Override
    public void resetCursor(String topic, String group, long cursor, Completion<Boolean> done)
            throws InterruptedException {
        writer.submit(new PgWriteOp.ResetCursor(topic, group, cursor, done));
    }

    @Override
    public void deleteGroup(String topic, String group, Completion<Boolean> done) throws InterruptedException {
        writer.submit(new PgWriteOp.DeleteGroup(topic, group, done));
    }

    @Override
    public void deleteTopic(String topic, Completion<Boolean> done) throws InterruptedException {
        writer.submit(new PgWriteOp.DeleteTopic(topic, done));
    }

    @Override
    public List<StoredMessage> read(String topic, long after, int limit, long maxBytes) {
        if (limit <= 0) {
            requireOpen();
            return List.of();
        }
        return reads.query("reading topic " + topic, c -> PgQueries.range(c, topic, after, limit, maxBytes));
    }

    @Override
    public OptionalLong resolve(String topic, String messageId) {
        var id = MessageIds.parse(messageId);
        OptionalLong seq = MessageIds.sequenceOf(id);
        if (seq.isEmpty()) {
            return OptionalLong.empty();
        }
        byte[] bytes = MessageIds.toBytes(id);
        boolean held = reads.query("looking up message " + messageId,
                c -> PgQueries.holds(c, topic, seq.getAsLong(), bytes));
        return held ? seq : OptionalLong.empty();
    }

    @Override
    public long lastSequence(String topic) {
        long last = reads.query("reading the last sequence of topic " + topic, c -> PgQueries.lastSequence(c, topic));
        return Math.max(0, last);
    }

    @Override
    public boolean exists(String topic) {
        long last = reads.query("looking up topic " + topic, c -> PgQueries.lastSequence(c, topic));
        return last >= 0;
    }

    @Override
    public List<TopicInfo> topics() {
        return reads.query("listing topics", PgQueries::topics);
    }

    @Override
    public List<TopicStats> stats(List<String> topics) {
        return reads.query("reading topic stats", c -> PgQueries.stats(c, topics));
    }

    @Override
    public List<GroupCursor> groupCursors() {
        return reads.query("reading group cursors", PgQueries::groupCursors);
    }

    @Override
    public void listen(StoreListener listener) {
        fanOut.add(listener);
    }

    @Override
    public int pendingWrites() {
        return writer.queueDepth();
    }

    /** The size of the store's tables in the database; PostgreSQL's own log is not counted. */
    @Override
    public Footprint footprint() {
        return reads.query("measuring the tables", PgQueries::footprint);
    }

    private void requireOpen() {
        if (closed) {
            throw new SluiceException.Unavailable("the broker is shutting down");
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
            notifications.close();
            reads.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Connection c = connector.open(true)) {
            PgRuns.end(c, epoch);
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "could not record the end of this store run (" + PgErrors.describe(e)
                    + "); other brokers count its leases released within " + PgLeases.RUN_GONE_SECONDS + " s");
        }
        LOG.log(Level.INFO, "storage closed: PostgreSQL at " + connector.where());
    }
}
