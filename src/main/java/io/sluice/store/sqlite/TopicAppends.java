package io.sluice.store.sqlite;

import io.sluice.store.StoreListener;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * What one write transaction appended to each topic, not yet visible in the topics' rows: the last
 * sequence, position and byte count, and the first sequence of a topic that held nothing before.
 * The transaction reads through it ({@code lastSequenceOf} and the like see its own appends) and
 * publishes it to the rows after the commit ({@link #committed}); the writer thread alone uses it.
 */
final class TopicAppends {
    /** The last sequence appended to each topic in this transaction. */
    private final Map<TopicRow, Long> lastSequences = new LinkedHashMap<>();
    /** The position of the last message appended to each topic in this transaction. */
    private final Map<TopicRow, Long> lastPositions = new HashMap<>();
    /** The bytes appended to each topic, ever, including this transaction's. */
    private final Map<TopicRow, Long> lastBytes = new HashMap<>();
    /** The first sequence appended in this transaction to each topic that held no message before. */
    private final Map<TopicRow, Long> firstSequences = new HashMap<>();

    /** The topics appended to in this transaction, in the order of their first append. */
    Set<TopicRow> topics() {
        return lastSequences.keySet();
    }

    /** The messages appended to the topic now end at {@code sequence}. */
    void appended(TopicRow row, long sequence) {
        lastSequences.put(row, sequence);
    }

    /** The last sequence of the topic including this transaction's appends. */
    long lastSequenceOf(TopicRow row) {
        Long pending = lastSequences.get(row);
        return pending != null ? pending : row.lastSequence;
    }

    /** The position of the topic's last message including this transaction's appends. */
    long lastPositionOf(TopicRow row) {
        return lastPositions.getOrDefault(row, row.lastPosition);
    }

    /** The bytes ever appended to the topic including this transaction's appends. */
    long lastBytesOf(TopicRow row) {
        return lastBytes.getOrDefault(row, row.lastBytes);
    }

    /** The position the next message appended to the topic takes: one past its last. */
    long nextPosition(TopicRow row) {
        long next = lastPositionOf(row) + 1;
        lastPositions.put(row, next);
        return next;
    }

    /**
     * Counts a message of {@code bytes} appended to the topic at {@code sequence}; answers the bytes
     * appended to it before (the message's {@code bstart}).
     */
    long appendBytes(TopicRow row, long sequence, long bytes) {
        long before = lastBytesOf(row);
        lastBytes.put(row, before + bytes);
        if (row.retained() == 0) {
            firstSequences.putIfAbsent(row, sequence);
        }
        return before;
    }

    /** The topic was deleted in this transaction: nothing of it is published. */
    void forget(TopicRow row) {
        lastSequences.remove(row);
        lastPositions.remove(row);
        lastBytes.remove(row);
        firstSequences.remove(row);
    }

    /**
     * After the commit: moves each topic's appends, stamped {@code now}, into its row, and adds an
     * {@code appended} event per topic to {@code events}.
     */
    void committed(long now, List<Consumer<StoreListener>> events) {
        for (var e : lastSequences.entrySet()) {
            TopicRow row = e.getKey();
            long last = e.getValue();
            Long firstNow = firstSequences.get(row);
            if (firstNow != null) {   // held none before: its first message is this transaction's first
                row.firstSequence = firstNow;
                row.firstTimestamp = now;
                row.firstBytes = row.lastBytes;
            }
            row.lastBytes = lastBytes.get(row);
            row.lastTimestamp = now;
            row.lastPosition = lastPositions.get(row);
            row.lastSequence = last;
            events.add(l -> l.appended(row.name, last));
        }
    }

    void clear() {
        lastSequences.clear();
        lastPositions.clear();
        lastBytes.clear();
        firstSequences.clear();
    }
}
