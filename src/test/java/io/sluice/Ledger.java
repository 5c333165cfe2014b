package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What publishers tried and what the broker acknowledged, across broker incarnations, keyed by a
 * unique text that starts every payload (never by sequence, so a reused sequence cannot hide a
 * loss); and the check of what a broker holds against it. Thread-safe.
 */
public final class Ledger {
    /** One acknowledged publish. */
    public record Acked(String key, String topic, String id, long sequence, ByteString payload) {
    }

    /** One message as read back from the broker or its data directory. */
    public record Seen(String topic, long sequence, String id, ByteString payload, Map<String, String> attributes) {
    }

    final ConcurrentHashMap<String, Acked> acked = new ConcurrentHashMap<>();
    final ConcurrentHashMap<Long, String> sequences = new ConcurrentHashMap<>();
    final ConcurrentLinkedQueue<String> reused = new ConcurrentLinkedQueue<>();
    final Set<String> attempted = ConcurrentHashMap.newKeySet();
    final ConcurrentLinkedQueue<List<String>> batches = new ConcurrentLinkedQueue<>();

    /** A payload starting with {@code key} and '|', then random bytes; the key is recorded as attempted. */
    public ByteString attempt(String key) {
        attempted.add(key);
        byte[] tail = new byte[24];
        ThreadLocalRandom.current().nextBytes(tail);
        return ByteString.copyFromUtf8(key + "|").concat(ByteString.copyFrom(tail));
    }

    /**
     * A payload of exactly {@code size} bytes (at least the key and '|') starting with {@code key}
     * and '|', then zeros; the key is recorded as attempted.
     */
    public ByteString attempt(String key, int size) {
        attempted.add(key);
        ByteString head = ByteString.copyFromUtf8(key + "|");
        return head.concat(ByteString.copyFrom(new byte[Math.max(0, size - head.size())]));
    }

    /** Records that these keys (already attempted) went in one BatchPublish: stored all or none. */
    public void attemptBatch(List<String> keys) {
        batches.add(List.copyOf(keys));
    }

    public void ack(Acked a) {
        acked.put(a.key(), a);
        String earlier = sequences.putIfAbsent(a.sequence(), a.key());
        if (earlier != null) {
            reused.add(a.sequence() + " (" + earlier + ", then " + a.key() + ")");
        }
    }

    /** Forgets the acknowledgements of messages deleted on purpose (a deleted topic). */
    public void forget(java.util.function.Predicate<String> keys) {
        acked.values().removeIf(a -> {
            boolean drop = keys.test(a.key());
            if (drop) {
                sequences.remove(a.sequence(), a.key());
            }
            return drop;
        });
    }

    public int size() {
        return acked.size();
    }

    public boolean acknowledged(String key) {
        return acked.containsKey(key);
    }

    /** The unique text before '|' that starts every payload. */
    public static String key(ByteString payload) {
        String s = payload.toString(StandardCharsets.ISO_8859_1);
        int bar = s.indexOf('|');
        return bar < 0 ? s : s.substring(0, bar);
    }

    /** What a broker held: messages found, acknowledged ones missing, and ones stored without an answer. */
    public record Verdict(int found, List<String> lost, int storedWithoutAnswer) {
        /** Fails the test when an acknowledged message is missing or a sequence was acknowledged twice. */
        public void assertNothingLost(Ledger ledger) {
            assertTrue(lost.isEmpty(), lost.size() + " acknowledged messages lost, e.g. "
                    + lost.subList(0, Math.min(10, lost.size())));
            assertTrue(ledger.reused.isEmpty(), "sequences acknowledged twice (they are never reused): "
                    + ledger.reused);
        }
    }

    /**
     * Checks every message a broker holds, read topic by topic from the start: sequences increase
     * within a topic and appear once; each payload was published by this ledger's publishers and is
     * stored once; every acknowledged message is there at its sequence, in its topic, with its id,
     * payload and attributes ({@code writer} = its key); a BatchPublish is there entirely or not at
     * all. Fails the test on anything but a loss,
     * which the verdict reports.
     */
    public Verdict verify(Map<String, List<Seen>> byTopic) {
        var found = new HashMap<Long, Seen>();
        var keys = new HashMap<String, Integer>();
        byTopic.forEach((topic, messages) -> {
            long after = 0;
            for (Seen m : messages) {
                assertTrue(m.sequence() > after, "sequences increase in " + topic + ": " + m.sequence()
                        + " after " + after);
                after = m.sequence();
                assertEquals(null, found.put(m.sequence(), m), "sequence " + m.sequence() + " stored twice");
                keys.merge(key(m.payload()), 1, Integer::sum);
            }
        });
        keys.forEach((key, count) -> {
            assertEquals(1, count, "payload " + key + " is stored exactly once");
            assertTrue(attempted.contains(key), "payload " + key + " was published by this test");
        });
        for (List<String> batch : batches) {
            long stored = batch.stream().filter(keys::containsKey).count();
            assertTrue(stored == 0 || stored == batch.size(), "a BatchPublish is stored all or none: " + stored
                    + " of " + batch.size() + " stored, starting with " + batch.getFirst());
        }
        var lost = new ArrayList<String>();
        for (Acked a : acked.values()) {
            Seen m = found.get(a.sequence());
            if (m == null || !m.payload().equals(a.payload())) {
                lost.add(a.key() + " acknowledged at " + a.sequence()
                        + (m == null ? " is missing" : " was replaced by " + key(m.payload())));
                continue;
            }
            assertEquals(a.topic(), m.topic(), "topic of " + a.key());
            assertEquals(a.id(), m.id(), "id of " + a.key());
            assertEquals(Map.of("writer", a.key()), m.attributes(), "attributes of " + a.key());
        }
        return new Verdict(found.size(), lost, found.size() - (size() - lost.size()));
    }
}
