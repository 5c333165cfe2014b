package io.sluice.server;

import io.sluice.delivery.Delivery;
import io.sluice.store.Store;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicStats;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.ConsoleSource;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The web console's figures, read from the store and delivery in-process. Thread-safe: every call
 * reads committed data through the store's read pool. A peek reads at most {@link #PEEK_READS}
 * windows of the topic and at most {@link #PEEK_BYTES} of payload, and previews 256 bytes of each.
 */
final class ConsoleData implements ConsoleSource {
    static final int PEEK_READS = 24;
    static final long PEEK_BYTES = 4L << 20;
    private static final int PREVIEW_BYTES = 256;

    private final Store store;
    private final Delivery delivery;

    ConsoleData(Store store, Delivery delivery) {
        this.store = store;
        this.delivery = delivery;
    }

    @Override
    public List<Topic> topics() {
        Set<List<String>> live = new HashSet<>();
        for (BrokerMetrics.GroupValue v : delivery.backpressure()) {
            live.add(List.of(v.topic(), v.group()));
        }
        var out = new ArrayList<Topic>();
        for (TopicStats t : store.stats(List.of())) {
            var groups = new ArrayList<Group>();
            for (TopicStats.GroupStats g : t.groups()) {
                groups.add(new Group(g.group(), g.cursor(), g.pending(), g.lastAckAt(),
                        live.contains(List.of(t.topic(), g.group())),
                        g.mode().name().toLowerCase(java.util.Locale.ROOT), g.inFlight(), g.oldestUnackedAt(),
                        g.deadLettered(), g.redelivered()));
            }
            out.add(new Topic(t.topic(), t.totalMessages(), t.firstSequence(), t.lastSequence(), t.lastTimestamp(),
                    t.createdAt(), groups, t.totalBytes(), t.discarded(), describe(t.config())));
        }
        return out;
    }

    /** A topic's limits in a few words: "none", or e.g. "100000 messages, 7 d, discard old". */
    static String describe(io.sluice.store.TopicConfig c) {
        var parts = new ArrayList<String>();
        if (c.maxMessages() > 0) {
            parts.add(c.maxMessages() + " messages");
        }
        if (c.maxBytes() > 0) {
            parts.add(c.maxBytes() + " B");
        }
        if (c.maxAgeMillis() > 0) {
            parts.add(age(c.maxAgeMillis()));
        }
        if (parts.isEmpty()) {
            return "none";
        }
        parts.add("discard " + c.discard().name().toLowerCase(java.util.Locale.ROOT));
        return String.join(", ", parts);
    }

    /** A max age in the largest whole unit: "7 d", "90 min", "1.5 s". */
    static String age(long millis) {
        long[] sizes = {86_400_000L, 3_600_000L, 60_000L, 1_000L};
        String[] units = {"d", "h", "min", "s"};
        for (int i = 0; i < sizes.length; i++) {
            if (millis % sizes[i] == 0) {
                return millis / sizes[i] + " " + units[i];
            }
        }
        return millis >= 1_000 ? millis / 1000.0 + " s" : millis + " ms";
    }

    /**
     * Sequences are global, so a topic's last N messages are found by reading after ever earlier
     * points (doubling the distance back from its last sequence) until N are in the window.
     */
    @Override
    public List<Peeked> peek(String topic, int count) {
        var stats = store.stats(List.of(topic));
        if (stats.isEmpty() || stats.getFirst().totalMessages() == 0) {
            return List.of();
        }
        long first = stats.getFirst().firstSequence();
        long last = stats.getFirst().lastSequence();
        long back = count;
        List<StoredMessage> window = List.of();
        for (int i = 0; i < PEEK_READS; i++) {
            long after = Math.max(first - 1, last - back);
            window = readAll(topic, after, last);
            if (window.size() >= count || after == first - 1) {
                break;
            }
            back *= 2;
        }
        var out = new ArrayList<Peeked>();
        for (StoredMessage m : window.subList(Math.max(0, window.size() - count), window.size())) {
            out.add(peeked(m));
        }
        return out;
    }

    private List<StoredMessage> readAll(String topic, long after, long last) {
        var all = new ArrayList<StoredMessage>();
        long bytes = 0;
        long from = after;
        while (from < last && bytes < PEEK_BYTES) {
            List<StoredMessage> batch = store.read(topic, from, 1000, PEEK_BYTES - bytes);
            if (batch.isEmpty()) {
                break;
            }
            for (StoredMessage m : batch) {
                bytes += m.payload().size();
            }
            all.addAll(batch);
            from = batch.getLast().sequence();
        }
        return all;
    }

    private static Peeked peeked(StoredMessage m) {
        byte[] head = m.payload().substring(0, Math.min(PREVIEW_BYTES, m.payload().size())).toByteArray();
        String text;
        boolean isText;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(head)).toString();
            isText = true;
        } catch (CharacterCodingException e) {
            // a cut inside a multi-byte character also lands here when the message is longer: show hex
            var hex = new StringBuilder(head.length * 2);
            for (byte x : head) {
                hex.append(String.format("%02x", x));
            }
            text = hex.toString();
            isText = false;
        }
        return new Peeked(m.sequence(), m.id().toString(), m.timestamp(), m.attributes(), text, m.payload().size(),
                isText);
    }

    @Override
    public Map<String, Long> broker() {
        var footprint = store.footprint();
        var out = new LinkedHashMap<String, Long>();
        out.put("database_bytes", footprint.dataBytes());
        out.put("wal_bytes", footprint.logBytes());
        out.put("writer_queue", (long) store.pendingWrites());
        out.put("streams", (long) delivery.activeStreams());
        return out;
    }
}
