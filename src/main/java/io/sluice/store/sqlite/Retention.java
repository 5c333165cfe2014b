package io.sluice.store.sqlite;

import io.sluice.store.StoreListener;
import io.sluice.store.TopicConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Removes the oldest messages of topics over their limits, inside writer transactions:
 *
 * <ul>
 *   <li>In the commit that appends to a topic under DISCARD_OLD, everything its appends put over
 *       the count or byte limit (so no commit is ever visible over them), up to a chunk more.</li>
 *   <li>Between commits, at most every {@link #CHECK_NANOS} (at once while work is left), a chunk
 *       sized by time ({@link ChunkSize}, about 2 ms) across topics over their age
 *       limit, or over a limit that was lowered; and the dedup ids past their topic's window.</li>
 * </ul>
 * The oldest retained message, the discarded count and the listener's events change when the
 * transaction commits, never before. A topic emptied by retention keeps its last sequence,
 * position and bytes in its row (a restart must not reuse them).
 *
 * <p>Threading: the writer thread only; owned by a {@link WriteTx}.
 */
final class Retention implements AutoCloseable {
    static final long CHECK_NANOS = 200_000_000;

    /** The oldest retained message of a topic: position, sequence, timestamp, and bytes appended before it. */
    record First(long position, long sequence, long timestamp, long bytesBefore) {
    }

    private final PreparedStatement oldestRows;
    private final PreparedStatement remove;
    private final PreparedStatement cursorsBelow;
    private final PreparedStatement countDiscarded;
    private final PreparedStatement saveEnd;
    private final Map<TopicRow, First> firsts = new HashMap<>();
    private final Map<TopicRow, long[]> discards = new LinkedHashMap<>();
    private boolean emptied;
    private long nextCheck = System.nanoTime();

    Retention(Connection c) throws SQLException {
        oldestRows = c.prepareStatement(
                "SELECT seq, pos, bstart, ts FROM messages WHERE topic_id = ? ORDER BY seq LIMIT ?");
        remove = c.prepareStatement("DELETE FROM messages WHERE topic_id = ? AND seq <= ?");
        cursorsBelow = c.prepareStatement(
                "SELECT cursor_seq FROM consumer_groups WHERE topic_id = ? AND cursor_seq < ?");
        countDiscarded = c.prepareStatement("UPDATE topics SET discarded = discarded + ? WHERE id = ?");
        saveEnd = c.prepareStatement("UPDATE topics SET last_seq = ?, last_pos = ?, last_bytes = ? WHERE id = ?");
    }

    /** Nanoseconds until background work is due (0: now); the writer waits no longer for work. */
    long nanosUntilDue(long nowNanos) {
        return Math.max(0, nextCheck - nowNanos);
    }

    /** After a failed transaction: background work waits a second (a full disk must not spin the writer). */
    void pauseAfterFailure() {
        nextCheck = System.nanoTime() + 1_000_000_000L;
    }

    /** Trims each topic appended to in this transaction back within its DISCARD_OLD count and byte limits. */
    void afterAppends(WriteTx tx, Iterable<TopicRow> appended) throws SQLException {
        for (TopicRow row : appended) {
            TopicConfig config = tx.configOf(row);
            if (config.discard() == TopicConfig.Discard.OLD && (config.maxMessages() > 0 || config.maxBytes() > 0)
                    && over(tx, row, config)) {
                long added = tx.appends.lastPositionOf(row) - row.lastPosition;
                trim(tx, row, config, (int) Math.min(Integer.MAX_VALUE - 1, tx.chunks.rows() + added), false);
            }
        }
    }

    /** When due: a chunk of age and lowered-limit removal across topics, and dedup ids past their window. */
    void background(WriteTx tx, Iterable<TopicRow> topics, long defaultDedupWindow) throws SQLException {
        long nowNanos = System.nanoTime();
        if (nowNanos - nextCheck < 0) {
            return;
        }
        int budget = tx.chunks.rows();
        for (TopicRow row : topics) {
            if (budget <= 0) {
                break;
            }
            if (tx.find(row.name) != row) {
                continue;   // deleted in this transaction
            }
            TopicConfig config = tx.configOf(row);
            if (over(tx, row, config)) {
                budget -= trim(tx, row, config, budget, true);
            }
            long cutoff = tx.now - config.dedupWindow(defaultDedupWindow);
            if (budget > 0 && Dedup.due(row, cutoff)) {
                budget -= tx.dedup.forget(row, cutoff, budget);
            }
        }
        nextCheck = budget <= 0 ? nowNanos : nowNanos + CHECK_NANOS;   // work left: at once again
    }

    /**
     * Between transactions: true when background work is due and some topic needs it (over a limit,
     * or remembering dedup ids past its window); else the next check is put off, so an idle writer
     * runs no empty transactions. Reads committed state only.
     */
    boolean backgroundDue(Iterable<TopicRow> topics, long nowMillis, long defaultDedupWindow) {
        long nowNanos = System.nanoTime();
        if (nowNanos - nextCheck < 0) {
            return false;
        }
        for (TopicRow row : topics) {
            TopicConfig config = row.config;
            First first = new First(row.firstPosition, row.firstSequence, row.firstTimestamp, row.firstBytes);
            if (over(config, first, row.lastPosition, row.lastBytes, nowMillis)
                    || Dedup.due(row, nowMillis - config.dedupWindow(defaultDedupWindow))) {
                return true;
            }
        }
        nextCheck = nowNanos + CHECK_NANOS;
        return false;
    }

    /** True when the topic holds more than a limit allows (count and bytes under DISCARD_OLD; age under both). */
    private boolean over(WriteTx tx, TopicRow row, TopicConfig config) {
        return over(config, firstOf(row), tx.appends.lastPositionOf(row), tx.appends.lastBytesOf(row), tx.now);
    }

    private static boolean over(TopicConfig config, First first, long lastPosition, long lastBytes, long now) {
        if (first.position() > lastPosition) {
            return false;
        }
        if (config.maxAgeMillis() > 0 && first.timestamp() < now - config.maxAgeMillis()) {
            return true;
        }
        if (config.discard() != TopicConfig.Discard.OLD) {
            return false;
        }
        return config.maxMessages() > 0 && lastPosition - first.position() + 1 > config.maxMessages()
                || config.maxBytes() > 0 && lastBytes - first.bytesBefore() > config.maxBytes();
    }

    private First firstOf(TopicRow row) {
        First pending = firsts.get(row);
        return pending != null ? pending
                : new First(row.firstPosition, row.firstSequence, row.firstTimestamp, row.firstBytes);
    }

    /** Removes up to {@code limit} of the topic's oldest messages that break a limit; answers how many. */
    private int trim(WriteTx tx, TopicRow row, TopicConfig config, int limit, boolean timed) throws SQLException {
        long started = System.nanoTime();
        long lastPosition = tx.appends.lastPositionOf(row);
        long lastBytes = tx.appends.lastBytesOf(row);
        long cutoff = config.maxAgeMillis() > 0 ? tx.now - config.maxAgeMillis() : Long.MIN_VALUE;
        boolean old = config.discard() == TopicConfig.Discard.OLD;
        var removed = new ArrayList<Long>();
        First next = null;
        oldestRows.setLong(1, row.id);
        oldestRows.setInt(2, limit);
        try (ResultSet rs = oldestRows.executeQuery()) {
            while (rs.next()) {
                long seq = rs.getLong(1);
                long pos = rs.getLong(2);
                long bytesBefore = rs.getLong(3);
                long ts = rs.getLong(4);
                boolean over = ts < cutoff
                        || old && config.maxMessages() > 0 && lastPosition - pos + 1 > config.maxMessages()
                        || old && config.maxBytes() > 0 && lastBytes - bytesBefore > config.maxBytes();
                if (!over) {
                    next = new First(pos, seq, ts, bytesBefore);
                    break;
                }
                removed.add(seq);
            }
        }
        if (removed.isEmpty()) {
            return 0;
        }
        long through = removed.getLast();
        remove.setLong(1, row.id);
        remove.setLong(2, through);
        remove.executeUpdate();
        if (next == null) {
            next = oldestLeft(row);
        }
        if (next == null) {   // emptied: the row keeps where the topic ended
            next = new First(lastPosition + 1, 0, 0, lastBytes);
            saveEnd.setLong(1, tx.lastSequenceOf(row));
            saveEnd.setLong(2, lastPosition);
            saveEnd.setLong(3, lastBytes);
            saveEnd.setLong(4, row.id);
            saveEnd.executeUpdate();
            emptied = true;
        }
        countDiscarded.setLong(1, removed.size());
        countDiscarded.setLong(2, row.id);
        countDiscarded.executeUpdate();
        firsts.put(row, next);
        long[] counts = discards.computeIfAbsent(row, r -> new long[2]);
        counts[0] += removed.size();
        counts[1] += unconsumed(row, removed);
        if (timed && removed.size() == limit) {
            tx.chunks.took(System.nanoTime() - started);
        }
        return removed.size();
    }

    private First oldestLeft(TopicRow row) throws SQLException {
        oldestRows.setLong(1, row.id);
        oldestRows.setInt(2, 1);
        try (ResultSet rs = oldestRows.executeQuery()) {
            return rs.next() ? new First(rs.getLong(2), rs.getLong(1), rs.getLong(4), rs.getLong(3)) : null;
        }
    }

    /** Of the removed messages (ascending sequences), how many some group had not consumed, counted per group. */
    private long unconsumed(TopicRow row, List<Long> removed) throws SQLException {
        long[] seqs = removed.stream().mapToLong(Long::longValue).toArray();
        long count = 0;
        cursorsBelow.setLong(1, row.id);
        cursorsBelow.setLong(2, seqs[seqs.length - 1]);
        try (ResultSet rs = cursorsBelow.executeQuery()) {
            while (rs.next()) {
                int i = Arrays.binarySearch(seqs, rs.getLong(1));
                int firstAfter = i >= 0 ? i + 1 : -i - 1;
                count += seqs.length - firstAfter;
            }
        }
        return count;
    }

    /** True when a topic was emptied in this transaction (the broker's high-water marks must be saved). */
    boolean emptiedAny() {
        return emptied;
    }

    /** After the commit: the new oldest messages and counts become visible; the listener's events are added. */
    void committed(List<Consumer<StoreListener>> events) {
        firsts.forEach((row, first) -> {
            row.firstBytes = first.bytesBefore();
            row.firstTimestamp = first.timestamp();
            row.firstSequence = first.sequence();
            row.firstPosition = first.position();
        });
        discards.forEach((row, counts) -> {
            row.discarded += counts[0];
            events.add(l -> l.discarded(row.name, counts[0], counts[1]));
        });
        clear();
    }

    void clear() {
        firsts.clear();
        discards.clear();
        emptied = false;
    }

    @Override
    public void close() throws SQLException {
        for (var st : List.of(oldestRows, remove, cursorsBelow, countDiscarded, saveEnd)) {
            st.close();
        }
    }
}
