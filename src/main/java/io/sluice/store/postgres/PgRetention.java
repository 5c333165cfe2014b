package io.sluice.store.postgres;

import io.sluice.store.Completion;
import io.sluice.domain.SluiceException;
import io.sluice.store.StoreListener;
import io.sluice.store.TopicConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Removes messages inside writer transactions, each removal exactly once whichever broker makes it:
 *
 * <ul>
 *   <li>In the transaction that appends to a topic under DISCARD_OLD, what its appends put over the
 *       count or byte limit (so no commit is visible over them), up to a chunk more.</li>
 *   <li>In a background transaction ({@link Background}, about once a second while there is work,
 *       at once again while work is left): a chunk of {@link #CHUNK} messages across topics over their
 *       age limit or over a lowered limit, and of deleted topics' messages (listed in {@code purges}).</li>
 * </ul>
 * Every write transaction of every broker first locks the counter row ({@link PgWriteTx#begin}), so
 * the background transactions of several brokers run one after another, and each finds only what
 * the ones before it left: no message is removed or counted twice, without any advisory lock. A topic
 * emptied by retention keeps its last sequence, position and bytes in its row. Writer thread only.
 */
final class PgRetention implements AutoCloseable {
    static final int CHUNK = 1_000;
    /** How often a writer looks for background work when it finds none. */
    static final long CHECK_NANOS = 1_000_000_000L;

    /** The topics over a limit now (their oldest message is too old, or there are too many or too many bytes). */
    private static final String OVER = """
            SELECT t.name FROM topics t
            CROSS JOIN LATERAL (SELECT m.pos, m.bstart, m.ts FROM messages m WHERE m.topic_id = t.id
                                ORDER BY m.seq LIMIT 1) f
            WHERE (t.max_age_ms > 0 AND f.ts < ? - t.max_age_ms)
               OR (t.discard = 'OLD' AND ((t.max_messages > 0 AND t.last_pos - f.pos + 1 > t.max_messages)
                                       OR (t.max_bytes > 0 AND t.last_bytes - f.bstart > t.max_bytes)))
            ORDER BY t.id LIMIT 100""";

    private final PreparedStatement oldest;
    private final PreparedStatement remove;
    private final PreparedStatement countDiscarded;
    private final PreparedStatement cursorsBelow;
    private final PreparedStatement over;
    private final PreparedStatement purges;
    private final PreparedStatement purgeChunk;
    private final PreparedStatement endPurge;
    private final PreparedStatement startPurge;
    private final Map<String, long[]> discards = new LinkedHashMap<>();

    PgRetention(Connection c) throws SQLException {
        oldest = c.prepareStatement("SELECT seq, pos, bstart, ts FROM messages WHERE topic_id = ? ORDER BY seq LIMIT ?");
        remove = c.prepareStatement("DELETE FROM messages WHERE topic_id = ? AND seq <= ?");
        countDiscarded = c.prepareStatement("UPDATE topics SET discarded = discarded + ? WHERE id = ?");
        cursorsBelow = c.prepareStatement("SELECT cursor_seq FROM consumer_groups WHERE topic_id = ? AND cursor_seq < ?");
        over = c.prepareStatement(OVER);
        purges = c.prepareStatement("SELECT topic_id FROM purges ORDER BY topic_id LIMIT 10");
        purgeChunk = c.prepareStatement("DELETE FROM messages WHERE ctid IN (SELECT ctid FROM messages "
                + "WHERE topic_id = ? LIMIT ?)");
        endPurge = c.prepareStatement("DELETE FROM purges WHERE topic_id = ?");
        startPurge = c.prepareStatement("INSERT INTO purges (topic_id, name, deleted_at) VALUES (?, ?, ?)");
    }

    /**
     * Outside any transaction of its own (the writer's connection between transactions): true when
     * some topic is over a limit at {@code now}, a deleted topic's messages are left, or a shared group
     * holds an expired lease (see {@link Background}). Ends the read.
     */
    boolean workDue(Connection c, PgLeases leases, long now) throws SQLException {
        try {
            over.setLong(1, now);
            try (ResultSet rs = over.executeQuery()) {
                if (rs.next()) {
                    return true;
                }
            }
            try (ResultSet rs = purges.executeQuery()) {
                if (rs.next()) {
                    return true;
                }
            }
            return !leases.withExpiredLeases(now).isEmpty();
        } finally {
            c.rollback();
        }
    }

    /** Refusal of fresh messages by a DISCARD_NEW topic at a count or byte limit; null when they fit. */
    SluiceException full(PgWriteTx tx, String topic, PgWriteTx.TopicState row, TopicConfig config, int fresh,
                         long freshBytes)
            throws SQLException {
        long held = 0;
        long bytes = 0;
        if (row != null) {
            tx.flush();   // this transaction's earlier inserts count
            oldest.setLong(1, row.id);
            oldest.setInt(2, 1);
            try (ResultSet rs = oldest.executeQuery()) {
                if (rs.next()) {
                    held = row.lastPos - rs.getLong(2) + 1;
                    bytes = row.lastBytes - rs.getLong(3);
                }
            }
        }
        String limit = null;
        if (config.maxMessages() > 0 && held + fresh > config.maxMessages()) {
            limit = "max_messages=" + config.maxMessages();
        } else if (config.maxBytes() > 0 && bytes + freshBytes > config.maxBytes()) {
            limit = "max_bytes=" + config.maxBytes();
        }
        return limit == null ? null
                : new SluiceException.TopicFull("topic " + topic + " is full: " + limit + " (discard policy NEW)");
    }

    /** After this transaction's inserts are flushed: each topic appended to, trimmed within its DISCARD_OLD limits. */
    void afterAppends(PgWriteTx tx, List<PgWriteTx.TopicState> appended) throws SQLException {
        for (PgWriteTx.TopicState row : appended) {
            TopicConfig config = tx.configOf(row);
            if (config.discard() == TopicConfig.Discard.OLD && (config.maxMessages() > 0 || config.maxBytes() > 0)) {
                long added = row.lastPos - row.storedLastPos;
                trim(tx, row, config, (int) Math.min(Integer.MAX_VALUE - 1, CHUNK + added));
            }
        }
    }

    /** A chunk of age and lowered-limit removal, and of deleted topics' messages; true when work is left. */
    boolean background(PgWriteTx tx) throws SQLException {
        int budget = CHUNK;
        var names = new ArrayList<String>();
        over.setLong(1, tx.now);
        try (ResultSet rs = over.executeQuery()) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        for (String name : names) {
            PgWriteTx.TopicState row = tx.find(name);
            if (budget > 0 && row != null) {
                budget -= trim(tx, row, tx.configOf(row), budget);
            }
        }
        var deleted = new ArrayList<Long>();
        try (ResultSet rs = purges.executeQuery()) {
            while (rs.next()) {
                deleted.add(rs.getLong(1));
            }
        }
        for (long topicId : deleted) {
            if (budget <= 0) {
                break;
            }
            budget -= purge(topicId, budget);
        }
        return budget <= 0;
    }

    /**
     * Removes up to a chunk of a deleted topic's messages now, and lists the topic in {@code purges}
     * when some are left for background transactions.
     */
    void deleted(PgWriteTx.TopicState row, long now) throws SQLException {
        if (purge(row.id, CHUNK) == CHUNK) {
            startPurge.setLong(1, row.id);
            startPurge.setString(2, row.name);
            startPurge.setLong(3, now);
            startPurge.executeUpdate();
        }
    }

    private int purge(long topicId, int limit) throws SQLException {
        purgeChunk.setLong(1, topicId);
        purgeChunk.setInt(2, limit);
        int removed = purgeChunk.executeUpdate();
        if (removed < limit) {
            endPurge.setLong(1, topicId);
            endPurge.executeUpdate();
        }
        return removed;
    }

    /** Removes up to {@code limit} of the topic's oldest messages that break a limit; answers how many. */
    private int trim(PgWriteTx tx, PgWriteTx.TopicState row, TopicConfig config, int limit) throws SQLException {
        long cutoff = config.maxAgeMillis() > 0 ? tx.now - config.maxAgeMillis() : Long.MIN_VALUE;
        boolean old = config.discard() == TopicConfig.Discard.OLD;
        var removed = new ArrayList<Long>();
        oldest.setLong(1, row.id);
        oldest.setInt(2, limit);
        try (ResultSet rs = oldest.executeQuery()) {
            while (rs.next()) {
                long pos = rs.getLong(2);
                boolean overLimit = rs.getLong(4) < cutoff
                        || old && config.maxMessages() > 0 && row.lastPos - pos + 1 > config.maxMessages()
                        || old && config.maxBytes() > 0 && row.lastBytes - rs.getLong(3) > config.maxBytes();
                if (!overLimit) {
                    break;
                }
                removed.add(rs.getLong(1));
            }
        }
        if (removed.isEmpty()) {
            return 0;
        }
        remove.setLong(1, row.id);
        remove.setLong(2, removed.getLast());
        remove.executeUpdate();
        for (String group : tx.leases.settleRemoved(row.id, removed.getLast())) {
            tx.sharedChanged(row.name, group);   // nothing is left of those messages to deliver: settled
        }
        countDiscarded.setLong(1, removed.size());
        countDiscarded.setLong(2, row.id);
        countDiscarded.executeUpdate();
        long[] counts = discards.computeIfAbsent(row.name, n -> new long[2]);
        counts[0] += removed.size();
        counts[1] += unconsumed(row.id, removed);
        return removed.size();
    }

    /** Of the removed messages (ascending sequences), how many some group had not consumed, counted per group. */
    private long unconsumed(long topicId, List<Long> removed) throws SQLException {
        long[] seqs = removed.stream().mapToLong(Long::longValue).toArray();
        long count = 0;
        cursorsBelow.setLong(1, topicId);
        cursorsBelow.setLong(2, seqs[seqs.length - 1]);
        try (ResultSet rs = cursorsBelow.executeQuery()) {
            while (rs.next()) {
                int i = Arrays.binarySearch(seqs, rs.getLong(1));
                count += seqs.length - (i >= 0 ? i + 1 : -i - 1);
            }
        }
        return count;
    }

    /** After the commit: listeners hear what was removed. */
    void committed(List<Consumer<StoreListener>> events) {
        discards.forEach((topic, counts) -> events.add(l -> l.discarded(topic, counts[0], counts[1])));
        discards.clear();
    }

    void clear() {
        discards.clear();
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(oldest, remove, countDiscarded, cursorsBelow, over, purges, purgeChunk, endPurge,
                startPurge)) {
            st.close();
        }
    }

    /** The writer's own background transaction: answers whether work is left. Not queued by callers. */
    static final class Background extends PgWriteOp<Boolean> {
        boolean more;

        Background() {
            super(Completion.none());
        }

        @Override
        Boolean apply(PgWriteTx tx) throws SQLException {
            more = tx.retention.background(tx);
            for (String[] g : tx.leases.withExpiredLeases(tx.now)) {
                PgSharedOps.sweep(tx, g[0], g[1]);
            }
            return more;
        }
    }
}
