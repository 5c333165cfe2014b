package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.GroupPosition;
import io.sluice.store.StoreLimits;
import io.sluice.store.StoreListener;
import io.sluice.store.TopicConfig;
import io.sluice.store.jdbc.SettledRuns;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The writer's view of one transaction on one connection: its prepared statements (reused across
 * transactions until the connection is replaced), the sequences the transaction reserved, and the
 * topic changes it made, told to listeners after the commit. Used only by the writer thread.
 *
 * <p>Every transaction begins with {@link #begin}: one UPDATE of the counter row reserving the
 * batch's sequences and advancing the clock's high-water mark. The row stays locked until the
 * commit, so the write transactions of every broker on the database run one after another at
 * that row, and sequence order is commit order: no reader can see sequence n and later find a
 * smaller one committed after it.
 */
final class PgWriteTx implements AutoCloseable {
    /** A topic's row as this transaction sees and changes it. */
    static final class TopicState {
        final long id;
        final String name;
        final long createdAt;
        /** The last position as committed before this transaction. */
        final long storedLastPos;
        long lastSeq;
        long lastPos;
        /** Payload and attribute bytes ever appended to the topic. */
        long lastBytes;
        TopicConfig config;
        boolean appended;

        TopicState(long id, String name, long createdAt, long lastSeq, long lastPos, long lastBytes,
                   TopicConfig config) {
            this.id = id;
            this.name = name;
            this.createdAt = createdAt;
            this.lastSeq = lastSeq;
            this.lastPos = lastPos;
            this.storedLastPos = lastPos;
            this.lastBytes = lastBytes;
            this.config = config;
        }
    }

    private final LongSupplier clock;
    private final int maxGroupsPerTopic;
    private final PgReserve reserve;
    private final PreparedStatement reserveMore;
    private final PreparedStatement selectTopic;
    private final PreparedStatement insertTopic;
    private final PgMessageRows rows;
    private final PreparedStatement deleteTopicRow;
    private final PgCursors cursors;
    private final SettledRuns settledRuns;
    /** The statements on groups' modes, configurations and delivery counts. */
    final PgGroups groups;
    /** The statements on topics' configurations and dedup ids. */
    final PgTopics topicConfigs;
    /** Removal of messages over topics' limits and of deleted topics' messages. */
    final PgRetention retention;
    /** The configuration of topics created by a publish or a subscribe. */
    final TopicConfig topicDefaults;
    /** The statements on shared groups' leases. */
    final PgLeases leases;
    /** The one-statement transaction of a batch of plain appends to plain topics. */
    final PgFastAppend fast;
    /** One message's id, payload and attributes, by topic id and sequence (for dead letters). */
    final PreparedStatement messageAt;
    /** This store run (a row of {@code store_runs}): the leases it grants carry it. */
    final long epoch;
    /** What this transaction tells other brokers besides its appends (claims, deletions, resets, settles). */
    final PgEvents events = new PgEvents();
    /** The claims this broker granted and the resets their streams were told of. */
    final PgResetFences resetFences;
    /** Shared groups whose leases the writer's background changed: their streams here and elsewhere are told. */
    private final java.util.Set<List<String>> sharedChanged = new java.util.LinkedHashSet<>();

    /** Topics this transaction looked up, created (a state) or found absent or deleted (null), by name. */
    private final Map<String, TopicState> topics = new HashMap<>();
    private final List<TopicState> touched = new ArrayList<>();
    /** The acks not written yet. */
    private final PgPendingAcks acks;
    private final List<String> deletedTopics = new ArrayList<>();
    /** Groups reset (or deleted: cursor -1), by topic and group: {cursor, reset epoch}. */
    private final Map<String, Map<String, long[]>> resetCursors = new LinkedHashMap<>();
    private long nextSequence;
    /** The topics in the database as this transaction counted them, -1 before it needed to. */
    private long topicCount = -1;
    private final int maxTopics;
    private final PreparedStatement countTopics;
    private long reservedLast;
    long now;

    PgWriteTx(Connection c, LongSupplier clock, int maxGroupsPerTopic, long dedupWindowMillis, long epoch,
              TopicConfig topicDefaults, PgResetFences resetFences, int maxTopics) throws SQLException {
        this.clock = clock;
        this.maxTopics = maxTopics;
        this.resetFences = resetFences;
        this.topicDefaults = topicDefaults;
        this.epoch = epoch;
        this.maxGroupsPerTopic = maxGroupsPerTopic;
        reserve = new PgReserve(c);
        selectTopic = c.prepareStatement("SELECT id, created_at, last_seq, last_pos, last_bytes, max_age_ms, max_bytes, "
                + "max_messages, discard, dedup_window_ms FROM topics WHERE name = ?");
        insertTopic = c.prepareStatement("INSERT INTO topics (name, created_at, max_age_ms, max_bytes, max_messages, "
                + "discard, dedup_window_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
        rows = new PgMessageRows(c);
        cursors = new PgCursors(c);
        settledRuns = new SettledRuns(c, "dead");
        deleteTopicRow = c.prepareStatement("DELETE FROM topics WHERE id = ?");
        countTopics = c.prepareStatement("SELECT count(*) FROM topics");
        reserveMore = c.prepareStatement(
                "UPDATE sluice_counter SET last_seq = last_seq + ? WHERE id = 1 RETURNING last_seq");
        messageAt = c.prepareStatement("SELECT mid, payload, attrs FROM messages WHERE topic_id = ? AND seq = ?");
        groups = new PgGroups(c);
        acks = new PgPendingAcks(cursors, settledRuns, groups);
        topicConfigs = new PgTopics(c, dedupWindowMillis);
        leases = new PgLeases(c);
        retention = new PgRetention(c);
        fast = new PgFastAppend(c);
    }

    /**
     * Starts the transaction: reserves {@code messages} sequences and stamps it with the wall
     * clock or the last timestamp given, whichever is later, in the counter row (locked until the
     * commit), and sets the run's commit mark to {@code txn} ({@link PgCommitMarks}); the rows of the
     * topics named in {@code appendsTo} are read (and locked) in the same statement ({@link PgReserve}).
     */
    void begin(int messages, long txn, List<String> appendsTo) throws SQLException {
        reserve.run(epoch, txn, messages, clock.getAsLong(), appendsTo, topics);
        reservedLast = reserve.lastSeq;
        nextSequence = reservedLast - messages + 1;
        now = reserve.ts;
    }

    /**
     * The next sequence of this transaction. Past the ones reserved at {@link #begin} (a dead letter
     * appended by a group write), more are reserved: the counter row is this transaction's already.
     */
    long nextSequence() throws SQLException {
        if (nextSequence > reservedLast) {
            reserveMore.setLong(1, 1);
            try (ResultSet rs = reserveMore.executeQuery()) {
                rs.next();
                reservedLast = rs.getLong(1);
                nextSequence = reservedLast;
            }
        }
        return nextSequence++;
    }

    /** The topic as this transaction sees it, or null when it does not exist. */
    TopicState find(String name) throws SQLException {
        if (topics.containsKey(name)) {
            return topics.get(name);
        }
        TopicState row = null;
        selectTopic.setString(1, name);
        try (ResultSet rs = selectTopic.executeQuery()) {
            if (rs.next()) {
                row = new TopicState(rs.getLong(1), name, rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5),
                        new TopicConfig(rs.getLong(6), rs.getLong(7), rs.getLong(8),
                                TopicConfig.Discard.valueOf(rs.getString(9)), rs.getLong(10)));
            }
        }
        topics.put(name, row);
        return row;
    }

    /**
     * A refusal when {@code name} does not exist and the database holds its limit of topics already
     * (--max-topics), else null. The count is read once per transaction that creates a topic.
     * Dead-letter topics are not asked about: a dead letter is stored.
     */
    SluiceException tooManyTopics(String name) throws SQLException {
        if (find(name) != null) {
            return null;
        }
        if (topicCount < 0) {
            try (var st = countTopics.executeQuery()) {
                st.next();
                topicCount = st.getLong(1);
            }
        }
        return topicCount < maxTopics ? null : StoreLimits.tooManyTopics(name, topicCount);
    }

    /** The topic, created in this transaction when it does not exist. */
    TopicState findOrCreate(String name) throws SQLException {
        TopicState row = find(name);
        if (row != null) {
            return row;
        }
        insertTopic.setString(1, name);
        insertTopic.setLong(2, now);
        insertTopic.setLong(3, topicDefaults.maxAgeMillis());
        insertTopic.setLong(4, topicDefaults.maxBytes());
        insertTopic.setLong(5, topicDefaults.maxMessages());
        insertTopic.setString(6, topicDefaults.discard().name());
        insertTopic.setLong(7, topicDefaults.dedupWindowMillis());
        try (ResultSet rs = insertTopic.executeQuery()) {
            rs.next();
            row = new TopicState(rs.getLong(1), name, now, 0, 0, 0, topicDefaults);
        }
        events.created(row.id, name);
        topics.put(name, row);
        if (topicCount >= 0) {
            topicCount++;
        }
        return row;
    }

    /** The topic's configuration in force in this transaction. */
    TopicConfig configOf(TopicState row) {
        return row.config;
    }

    /**
     * Adds one message row to the batch of inserts (sent with {@link #flush}); {@code size} is what it
     * counts against the topic's byte limit.
     */
    void insert(TopicState row, long seq, byte[] mid, byte[] payload, byte[] attrs, long crc, long size)
            throws SQLException {
        rows.add(row.id, seq, ++row.lastPos, mid, payload, attrs, crc, row.lastBytes);
        row.lastBytes += size;
        row.lastSeq = seq;
        if (!row.appended) {
            row.appended = true;
            touched.add(row);
        }
    }

    /** The group's persisted position, or null when it does not exist. */
    GroupPosition position(TopicState row, String group) throws SQLException {
        acks.flush(row, group, now);
        return cursors.position(row.id, group);
    }

    /** A refusal when the topic has its limit of groups already, else null. */
    SluiceException tooManyGroups(TopicState row) throws SQLException {
        long count = cursors.count(row.id);
        return count < maxGroupsPerTopic ? null : new SluiceException.TooLarge("topic " + row.name + " has "
                + count + " consumer groups, the limit (--max-groups-per-topic); delete unused ones with "
                + "DeleteConsumerGroup");
    }

    /** Records a cumulative ack under {@code claim} and {@code fence}, written at the flush ({@link PgPendingAcks}). */
    void ack(TopicState row, String group, long sequence, long claim, long fence) throws SQLException {
        acks.add(row, group, sequence, claim, fence, now);
    }

    void setCursor(TopicState row, String group, long cursor) throws SQLException {
        long resetEpoch = cursors.set(row.id, group, cursor, now);
        groups.dropGroup(row.id, group);
        resetCursors.computeIfAbsent(row.name, t -> new LinkedHashMap<>()).put(group, new long[] {cursor, resetEpoch});
        events.reset(row.name, group, cursor, resetEpoch);
    }

    boolean deleteGroup(TopicState row, String group) throws SQLException {
        boolean deleted = cursors.delete(row.id, group);
        groups.dropGroup(row.id, group);
        if (deleted) {
            resetCursors.computeIfAbsent(row.name, t -> new LinkedHashMap<>()).put(group, new long[] {-1, 0});
            events.reset(row.name, group, -1, 0);
        }
        return deleted;
    }

    /**
     * Removes the topic's groups and row, and a chunk of its messages (the rest go a chunk per background
     * transaction, {@link PgRetention}: unreachable meanwhile, as their topic id is never given again);
     * its sequences are never given again (the counter keeps them).
     */
    void deleteTopic(TopicState row) throws SQLException {
        flush();
        topicConfigs.dropTopic(row.id);
        groups.dropTopic(row.id);
        cursors.deleteOfTopic(row.id);
        deleteTopicRow.setLong(1, row.id);
        deleteTopicRow.executeUpdate();
        retention.deleted(row, now);
        topics.put(row.name, null);
        touched.remove(row);
        deletedTopics.add(row.name);
        events.deleted(row.id, row.name);
    }

    /** Writes the inserts batched since the last flush (one statement), then one cursor upsert per group. */
    void flush() throws SQLException {
        if (rows.size() > 0) {
            rows.insert(now);
        }
        acks.flush(now);
    }

    /**
     * Before the commit: the inserts left, then each appended topic's last sequence, position and bytes
     * (one UPDATE for all). When no topic appended to removes messages at each append (DISCARD_OLD
     * with a count or byte limit, {@link PgRetention#afterAppends}, which must see the inserts), the
     * inserts and the update are one statement.
     */
    void finish() throws SQLException {
        if (rows.size() > 0 && touched.stream().noneMatch(PgWriteTx::trimsAtAppend)) {
            rows.insertAndUpdate(now, touched, null);
            acks.flush(now);
            return;
        }
        flush();
        retention.afterAppends(this, touched);
        if (!touched.isEmpty()) {
            rows.update(touched);
        }
    }

    /**
     * True when {@link #finishAndNotify} can end this transaction: its last statement would insert
     * rows and update their topics, and nothing after it changes what other brokers are told.
     */
    boolean notifiesInLastStatement() {
        return rows.size() > 0 && acks.isEmpty() && touched.stream().noneMatch(PgWriteTx::trimsAtAppend);
    }

    /**
     * {@link #finish} when {@link #notifiesInLastStatement}: the inserts left, the topics' update and
     * the notification {@code announce} makes of this transaction, in one statement.
     */
    void finishAndNotify(PgCommitAnnouncer announce) throws SQLException {
        rows.insertAndUpdate(now, touched, announce.notice(appendedLastSequences(), events));
    }

    /** True when appends to the topic remove what they put over its limits in their own transaction. */
    private static boolean trimsAtAppend(TopicState row) {
        TopicConfig config = row.config;
        return config.discard() == TopicConfig.Discard.OLD && (config.maxMessages() > 0 || config.maxBytes() > 0);
    }

    /**
     * After the commit: what listeners must be told, in order (deletions, appends, cursor
     * resets); the transaction's bookkeeping is cleared for the next.
     */
    List<Consumer<StoreListener>> committed() {
        var events = new ArrayList<Consumer<StoreListener>>();
        for (String topic : deletedTopics) {
            events.add(l -> l.topicDeleted(topic));
        }
        for (TopicState row : touched) {
            long last = row.lastSeq;
            events.add(l -> l.appended(row.name, last));
        }
        // A reset's fence moves once the streams here have been told of it (PgResetFences).
        resetCursors.forEach((topic, groups) -> groups.forEach((group, reset) -> events.add(l -> {
            l.cursorReset(topic, group, reset[0]);
            if (reset[0] >= 0) {
                resetFences.told(topic, group, reset[1]);
            }
        })));
        retention.committed(events);
        for (List<String> g : sharedChanged) {
            events.add(l -> l.sharedGroupChanged(g.get(0), g.get(1), false));
        }
        clear();
        return events;
    }

    /**
     * The writer's background settled, gave back or dead-lettered leases of a shared group no stream
     * asked about: its streams on this broker (after the commit) and on the others are told.
     */
    void sharedChanged(String topic, String group) {
        if (sharedChanged.add(List.of(topic, group))) {
            this.events.shared(topic, group, false);
        }
    }

    /**
     * Each topic appended to in this transaction, with whether it is plain: without a count or byte
     * limit, so its plain appends may go by {@link PgFastAppend}. Before {@link #committed}.
     */
    Map<String, Boolean> appendedPlain() {
        var out = new HashMap<String, Boolean>();
        for (TopicState row : touched) {
            out.put(row.name, row.config.maxMessages() == 0 && row.config.maxBytes() == 0);
        }
        return out;
    }

    /** Each topic appended to in this transaction with its last sequence (for the commit's notification). */
    Map<String, Long> appendedLastSequences() {
        var out = new LinkedHashMap<String, Long>();
        for (TopicState row : touched) {
            out.put(row.name, row.lastSeq);
        }
        return out;
    }

    /** After a rollback: forget everything this transaction did. */
    void clear() {
        topicCount = -1;
        topics.clear();
        touched.clear();
        acks.clear();
        deletedTopics.clear();
        resetCursors.clear();
        rows.clear();
        events.clear();
        leases.clear();
        retention.clear();
        sharedChanged.clear();
    }

    @Override
    public void close() throws SQLException {
        reserve.close();
        for (var st : new PreparedStatement[] {reserveMore, messageAt, selectTopic, insertTopic,
                deleteTopicRow, countTopics}) {
            st.close();
        }
        rows.close();
        fast.close();
        cursors.close();
        settledRuns.close();
        groups.close();
        topicConfigs.close();
        leases.close();
        retention.close();
    }
}
