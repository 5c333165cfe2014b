package io.sluice.store.sqlite;

import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicStats;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The store's reads of topics: messages (up to a damaged one), id lookups, times and stats, each
 * run on the read pool against committed data, with the topics' in-memory rows saying what exists.
 */
final class TopicReads {
    private final ConcurrentHashMap<String, TopicRow> topics;
    private final ReadPool reads;

    TopicReads(ConcurrentHashMap<String, TopicRow> topics, ReadPool reads) {
        this.topics = topics;
        this.reads = reads;
    }

    List<StoredMessage> read(String topic, long after, int limit, long maxBytes) {
        TopicRow row = topics.get(topic);
        if (row == null || limit <= 0 || after >= row.lastSequence) {
            return List.of();
        }
        try {
            return reads.query("reading topic " + topic, c -> c.range(row, after, limit, maxBytes));
        } catch (SluiceException.Corrupted damage) {
            return intactBefore(row, after, limit, maxBytes, damage);
        }
    }

    /**
     * A read met a damaged message: answers the intact messages before it, read one at a time, so
     * a reader gets everything up to the damage; the next read, starting at the damaged message,
     * throws. Runs only when damage was found.
     */
    private List<StoredMessage> intactBefore(TopicRow row, long after, int limit, long maxBytes,
                                             SluiceException.Corrupted damage) {
        var intact = new ArrayList<StoredMessage>();
        long bytes = 0;
        long position = after;
        while (intact.size() < limit && bytes < maxBytes) {
            long from = position;
            List<StoredMessage> one;
            try {
                one = reads.query("reading topic " + row.name, c -> c.range(row, from, 1, Long.MAX_VALUE));
            } catch (SluiceException.Corrupted e) {
                break;
            }
            if (one.isEmpty()) {
                break;
            }
            StoredMessage m = one.getFirst();
            intact.add(m);
            bytes += m.payload().size();
            position = m.sequence();
        }
        if (intact.isEmpty()) {
            throw damage;
        }
        return intact;
    }

    OptionalLong resolve(String topic, String messageId) {
        TopicRow row = topics.get(topic);
        var id = MessageIds.parse(messageId);
        OptionalLong seq = MessageIds.sequenceOf(messageId);
        if (row == null || seq.isEmpty() || seq.getAsLong() > row.lastSequence) {
            return OptionalLong.empty();
        }
        byte[] bytes = MessageIds.toBytes(id);
        boolean held = reads.query("looking up message " + messageId, c -> c.holds(row, seq.getAsLong(), bytes));
        return held ? seq : OptionalLong.empty();
    }

    long cursorAtTime(String topic, long timestampMillis) {
        TopicRow row = topics.get(topic);
        if (row == null) {
            return 0;
        }
        if (row.retained() == 0) {
            return row.lastSequence;
        }
        return reads.query("finding a time in topic " + topic, c -> c.cursorAtTime(row, timestampMillis));
    }

    List<TopicStats> stats(List<String> names) {
        var rows = new ArrayList<TopicRow>();
        if (names.isEmpty()) {
            rows.addAll(topics.values());
        } else {
            for (String n : names) {
                TopicRow row = topics.get(n);
                if (row != null) {
                    rows.add(row);
                }
            }
        }
        rows.sort(Comparator.comparing(r -> r.name));
        var out = new ArrayList<TopicStats>(rows.size());
        for (TopicRow row : rows) {
            out.add(reads.query("reading stats of topic " + row.name, c -> c.stats(row)));
        }
        return out;
    }
}
