package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.StoreLimits;
import io.sluice.store.StoreListener;
import io.sluice.store.StoreOptions;
import io.sluice.store.TopicConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Consumer;

/**
 * The writer's view of the database during one transaction: prepared statements reused across
 * transactions, the next sequence and timestamp, and the topic changes not yet committed. Used
 * only by the writer thread.
 */
final class WriteTx implements AutoCloseable {
    private final Connection connection;
    private final ConcurrentMap<String, TopicRow> topics;
    private final StoreOptions options;   // the clock (Unix ms), group limit, topic defaults, dedup window
    final int maxGroupsPerTopic;
    final Dedup dedup;
    final Retention retention;
    final TimeIndex timeIndex;
    final PreparedStatement updateConfig;
    final PreparedStatement countGroups;
    final PreparedStatement insertMessage;
    final PreparedStatement insertTopic;
    final PreparedStatement saveState;
    final PreparedStatement upsertCursorMax;
    final PreparedStatement insertGroupIfAbsent;
    final PreparedStatement selectCursor;
    final PreparedStatement setCursor;
    final PreparedStatement deleteGroup;
    final PreparedStatement insertPurge;
    final PreparedStatement purgeChunk;
    final PreparedStatement endPurge;
    final PreparedStatement deleteTopicGroups;
    final PreparedStatement deleteTopicRow;
    /** Consumer groups' modes, configurations, counters and delivery rows (see {@link GroupTable}). */
    final GroupTable groups;
    /** Lease requests of full shared groups, answered by a later transaction (see {@link WaitingLeases}). */
    final WaitingLeases waiting = new WaitingLeases();

    private long lastSequence;      // the highest sequence committed or allocated in this transaction
    private long lastTimestamp;     // never goes back, whatever the wall clock does
    private long committedSequence;
    private long committedTimestamp;
    private long nextTopicId;       // ids are given here, never one a deleted topic's messages still hold
    /** Topics created (a row) or deleted (null) in this transaction, by name. */
    private final Map<String, TopicRow> changedTopics = new HashMap<>();
    private int topicsCreated;   // in this transaction, not yet in topics
    /** What this transaction appended to each topic, published to the rows after the commit. */
    final TopicAppends appends = new TopicAppends();
    /** Configurations replaced in this transaction. */
    private final Map<TopicRow, TopicConfig> configs = new HashMap<>();
    final Map<String, Boolean> deletedTopics = new LinkedHashMap<>();
    /** Topics deleted in this transaction whose messages are left for the writer to purge. */
    final List<TopicRow> purgesStarted = new ArrayList<>();
    /** The highest ack per (topic row, group) in this transaction, not yet written. */
    private final Map<TopicRow, Map<String, Long>> pendingAcks = new HashMap<>();
    /** The size of removal chunks, carried across transactions (see {@link ChunkSize}). */
    final ChunkSize chunks = new ChunkSize();
    /** Message rows added to the insert statement's batch, not yet executed. */
    private int pendingInserts;
    final Map<String, Map<String, Long>> resetCursors = new LinkedHashMap<>();
    long now;
    /** Shared groups that need the writer although no stream asks (see {@link LeaseSweep}). */
    final LeaseSweep leaseSweep = new LeaseSweep();

    WriteTx(Connection connection, ConcurrentMap<String, TopicRow> topics, long nextTopicId, long lastSequence,
            long lastTimestamp, StoreOptions options, long epoch) throws SQLException {
        this.connection = connection;
        this.options = options;
        this.maxGroupsPerTopic = options.maxGroupsPerTopic();
        this.topics = topics;
        this.nextTopicId = nextTopicId;
        this.lastSequence = lastSequence;
        this.committedSequence = lastSequence;
        this.lastTimestamp = lastTimestamp;
        this.committedTimestamp = lastTimestamp;
        insertMessage = connection.prepareStatement("INSERT INTO messages (seq, topic_id, mid, ts, payload, attrs, crc, "
                + "pos, bstart) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insertTopic = connection.prepareStatement("INSERT INTO topics (id, name, created_at, max_age_ms, max_bytes, "
                + "max_messages, discard, dedup_window_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        updateConfig = connection.prepareStatement("UPDATE topics SET max_age_ms = ?, max_bytes = ?, max_messages = ?, "
                + "discard = ?, dedup_window_ms = ? WHERE id = ?");
        dedup = new Dedup(connection);
        retention = new Retention(connection);
        timeIndex = new TimeIndex(connection);
        saveState = connection.prepareStatement("UPDATE broker_state SET last_seq = ?, last_ts = ? WHERE id = 1");
        upsertCursorMax = connection.prepareStatement("""
                INSERT INTO consumer_groups (topic_id, name, cursor_seq, created_at, last_ack_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (topic_id, name) DO UPDATE
                SET cursor_seq = max(cursor_seq, excluded.cursor_seq), last_ack_at = excluded.last_ack_at""");
        insertGroupIfAbsent = connection.prepareStatement("""
                INSERT INTO consumer_groups (topic_id, name, cursor_seq, created_at, last_ack_at)
                VALUES (?, ?, ?, ?, 0) ON CONFLICT (topic_id, name) DO NOTHING""");
        selectCursor = connection.prepareStatement(
                "SELECT cursor_seq, delivered_seq FROM consumer_groups WHERE topic_id = ? AND name = ?");
        setCursor = connection.prepareStatement("""
                INSERT INTO consumer_groups (topic_id, name, cursor_seq, created_at, last_ack_at)
                VALUES (?, ?, ?, ?, 0)
                ON CONFLICT (topic_id, name) DO UPDATE
                SET cursor_seq = excluded.cursor_seq, delivered_seq = excluded.cursor_seq, unsettled = NULL,
                    in_flight = 0""");
        deleteGroup = connection.prepareStatement("DELETE FROM consumer_groups WHERE topic_id = ? AND name = ?");
        countGroups = connection.prepareStatement("SELECT count(*) FROM consumer_groups WHERE topic_id = ?");
        insertPurge = connection.prepareStatement("INSERT INTO purges (topic_id, name, deleted_at) VALUES (?, ?, ?)");
        purgeChunk = connection.prepareStatement(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE topic_id = ? ORDER BY seq LIMIT ?)");
        endPurge = connection.prepareStatement("DELETE FROM purges WHERE topic_id = ?");
        deleteTopicGroups = connection.prepareStatement("DELETE FROM consumer_groups WHERE topic_id = ?");
        deleteTopicRow = connection.prepareStatement("DELETE FROM topics WHERE id = ?");
        groups = new GroupTable(connection, epoch);
    }

    /** Starts a transaction's bookkeeping; the wall clock is read once per transaction. */
    void begin() {
        now = Math.max(options.clock().getAsLong(), lastTimestamp);
        lastTimestamp = now;
    }

    long nextSequence() {
        return ++lastSequence;
    }

    /** The topic's row as this transaction sees it, or null. */
    TopicRow find(String name) {
        if (changedTopics.containsKey(name)) {
            return changedTopics.get(name);
        }
        return topics.get(name);
    }

    /** The topic's row, created in this transaction when it does not exist. */
    TopicRow findOrCreate(String name) throws SQLException {
        return findOrCreate(name, options.topicDefaults());
    }

    /** The topic's row, created in this transaction with {@code config} when it does not exist. */
    TopicRow findOrCreate(String name, TopicConfig config) throws SQLException {
        TopicRow row = find(name);
        if (row != null) {
            return row;
        }
        long id = nextTopicId++;   // not given back after a rollback: a gap in ids is harmless
        insertTopic.setLong(1, id);
        insertTopic.setString(2, name);
        insertTopic.setLong(3, now);
        bindConfig(insertTopic, 4, config);
        insertTopic.executeUpdate();
        row = new TopicRow(id, name, now, 0, 0);
        row.config = config;   // the row is this transaction's alone until the commit
        changedTopics.put(name, row);
        topicsCreated++;
        return row;
    }

    /** Replaces an existing topic's configuration, visible to others once the transaction commits. */
    void configure(TopicRow row, TopicConfig config) throws SQLException {
        bindConfig(updateConfig, 1, config);
        updateConfig.setLong(6, row.id);
        updateConfig.executeUpdate();
        configs.put(row, config);
    }

    private static void bindConfig(PreparedStatement st, int from, TopicConfig config) throws SQLException {
        st.setLong(from, config.maxAgeMillis());
        st.setLong(from + 1, config.maxBytes());
        st.setLong(from + 2, config.maxMessages());
        st.setInt(from + 3, config.discard().ordinal());
        st.setLong(from + 4, config.dedupWindowMillis());
    }

    /** The configuration of topics created by a publish or a subscribe. */
    TopicConfig topicDefaults() {
        return options.topicDefaults();
    }

    /** The cursor before the topic's first message at or after {@code millis}, as this transaction sees it. */
    long cursorAtTime(TopicRow row, long millis) {
        try {
            return timeIndex.cursorAt(row.id, 0, lastSequenceOf(row), millis);
        } catch (SQLException e) {
            throw StorageErrors.map(e, "finding a time in topic " + row.name);
        }
    }

    /** The topic's configuration as this transaction sees it. */
    TopicConfig configOf(TopicRow row) {
        return configs.getOrDefault(row, row.config);
    }

    /** The dedup window in force for the topic. */
    long dedupWindowOf(TopicRow row) {
        return configOf(row).dedupWindow(options.dedupWindowMillis());
    }

    /** The last sequence of the topic including this transaction's appends. */
    long lastSequenceOf(TopicRow row) {
        return appends.lastSequenceOf(row);
    }

    /**
     * A refusal when {@code name} does not exist and the broker holds its limit of topics already
     * (--max-topics), else null. Dead-letter topics are not asked about: a dead letter is stored.
     */
    SluiceException tooManyTopics(String name) {
        if (find(name) != null) {
            return null;
        }
        long held = topics.size() + topicsCreated;
        return held < options.maxTopics() ? null : StoreLimits.tooManyTopics(name, held);
    }

    /**
     * Refuses a new group on a topic that has its limit of groups already (an existing group is
     * never refused); counts the topic's groups through its primary key, only when one is created.
     */
    SluiceException tooManyGroups(TopicRow row) throws SQLException {
        countGroups.setLong(1, row.id);
        try (ResultSet rs = countGroups.executeQuery()) {
            rs.next();
            long groups = rs.getLong(1);
            return groups < maxGroupsPerTopic ? null : new SluiceException.TooLarge("topic " + row.name + " has "
                    + groups + " consumer groups, the limit (--max-groups-per-topic); delete unused ones with "
                    + "DeleteConsumerGroup");
        }
    }

    /** Records a cumulative ack; only the highest per group is written, once per commit. */
    void ack(TopicRow row, String group, long sequence) {
        pendingAcks.computeIfAbsent(row, r -> new HashMap<>()).merge(group, sequence, Math::max);
    }

    /**
     * Runs retention inside this transaction, after its writes are flushed: trims the topics appended
     * to back within their limits, then, when due, a chunk of background removal (age, lowered
     * limits, dedup ids past their window).
     */
    void retainWithinLimits() throws SQLException {
        retention.afterAppends(this, appends.topics());
        retention.background(this, topics.values(), options.dedupWindowMillis());
    }

    /** Between transactions: true when the next transaction sweeps shared groups (see {@link LeaseSweep}). */
    boolean leaseSweepDue() {
        return leaseSweep.due(groups, Math.max(options.clock().getAsLong(), lastTimestamp));
    }

    /** In a transaction: sweeps the shared groups {@link #leaseSweepDue} found. */
    void sweepLeases() throws SQLException {
        leaseSweep.run(this, connection, topics.values());
    }

    /** Between transactions: true when retention has background work to do now (see {@link Retention#backgroundDue}). */
    boolean backgroundDue() {
        return retention.backgroundDue(topics.values(), Math.max(options.clock().getAsLong(), lastTimestamp),
                options.dedupWindowMillis());
    }

    /** Counts rows added to the insert batch (see {@link #flush}). */
    void insertsBatched(int rows) {
        pendingInserts += rows;
    }

    /**
     * Writes what appends and acks batched since the last flush: all message rows in one
     * executeBatch (one pass through the driver instead of a round trip per row), then one cursor
     * upsert per group, the cursor only moving forward (and past the settled messages right after it).
     */
    void flush() throws SQLException {
        if (pendingInserts > 0) {
            pendingInserts = 0;
            insertMessage.executeBatch();
        }
        dedup.flush();
        groups.flush(now);
        if (pendingAcks.isEmpty()) {
            return;
        }
        for (var byRow : pendingAcks.entrySet()) {
            for (var byGroup : byRow.getValue().entrySet()) {
                // Past the settled messages right after the ack: nothing before them is unacknowledged now.
                long cursor = groups.settledRuns.cursorAfter(byRow.getKey().id, byGroup.getKey(), byGroup.getValue());
                upsertCursorMax.setLong(1, byRow.getKey().id);
                upsertCursorMax.setString(2, byGroup.getKey());
                upsertCursorMax.setLong(3, cursor);
                upsertCursorMax.setLong(4, now);
                upsertCursorMax.setLong(5, now);
                upsertCursorMax.executeUpdate();
                groups.acked(byRow.getKey(), byGroup.getKey(), cursor);
            }
        }
        pendingAcks.clear();
    }

    void topicDeleted(TopicRow row) {
        changedTopics.put(row.name, null);
        appends.forget(row);
        configs.remove(row);
        deletedTopics.put(row.name, Boolean.TRUE);
    }

    void cursorReset(String topic, String group, long cursor) {
        resetCursors.computeIfAbsent(topic, t -> new LinkedHashMap<>()).put(group, cursor);
    }

    /**
     * Writes the sequence and clock high-water marks inside a transaction that deletes messages.
     * Appends need not: at start-up the marks are read back from the newest stored message as well
     * as from this row, so an append's commit rewrites no extra page. A deletion may remove that
     * newest message, and then only this row keeps a restarted broker from reusing its sequence or
     * stamping an earlier time.
     */
    void saveStateIfDeleting() throws SQLException {
        if (!deletedTopics.isEmpty() || retention.emptiedAny()) {
            saveState.setLong(1, lastSequence);
            saveState.setLong(2, lastTimestamp);
            saveState.executeUpdate();
        }
    }

    /**
     * After a commit: publishes this transaction's topic changes to readers and answers what the
     * listener must be told, in order: deletions first (a topic deleted and created again in one
     * transaction is then seen deleted, then appended to), appends, cursor resets.
     */
    List<Consumer<StoreListener>> committed() {
        var events = new ArrayList<Consumer<StoreListener>>();
        for (var e : changedTopics.entrySet()) {
            if (e.getValue() == null) {
                topics.remove(e.getKey());
            } else {
                topics.put(e.getKey(), e.getValue());
            }
        }
        for (String topic : deletedTopics.keySet()) {
            events.add(l -> l.topicDeleted(topic));
        }
        configs.forEach((row, config) -> row.config = config);
        appends.committed(now, events);
        resetCursors.forEach((topic, groups) -> groups.forEach(
                (group, cursor) -> events.add(l -> l.cursorReset(topic, group, cursor))));
        retention.committed(events);
        leaseSweep.committed(events);
        dedup.committed();
        committedSequence = lastSequence;
        committedTimestamp = lastTimestamp;
        clear();
        return events;
    }

    /** After a rollback: forget everything this transaction did. */
    void rolledBack() {
        lastSequence = committedSequence;
        lastTimestamp = committedTimestamp;
        groups.forgetAll();
        leaseSweep.rolledBack();
        clear();
    }

    /**
     * After a rollback: this one closed, a new one at the last committed state with its statements
     * prepared again. sqlite-jdbc finalizes a statement whose step fails with anything but BUSY,
     * LOCKED, CONSTRAINT or MISUSE (a full disk, an I/O error): reusing it would fail every later
     * write with "statement is not executing".
     */
    WriteTx prepareAgain() throws SQLException {
        try {
            close();
        } catch (SQLException ignored) {
            // a finalized statement may refuse to close; closing the connection reclaims it
        }
        var again = new WriteTx(connection, topics, nextTopicId, committedSequence, committedTimestamp, options,
                groups.epoch);
        again.retention.pauseAfterFailure();
        again.waiting.takeOver(waiting);
        return again;
    }

    private void clear() {
        pendingAcks.clear();
        pendingInserts = 0;
        changedTopics.clear();
        topicsCreated = 0;
        appends.clear();
        configs.clear();
        dedup.clear();
        retention.clear();
        deletedTopics.clear();
        purgesStarted.clear();
        resetCursors.clear();
    }

    @Override
    public void close() throws SQLException {
        for (var st : new PreparedStatement[] {insertMessage, insertTopic, saveState, upsertCursorMax, countGroups,
                insertGroupIfAbsent, selectCursor, setCursor, deleteGroup, deleteTopicGroups, deleteTopicRow,
                insertPurge, purgeChunk, endPurge, updateConfig}) {
            st.close();
        }
        dedup.close();
        retention.close();
        timeIndex.close();
        groups.close();
    }
}
