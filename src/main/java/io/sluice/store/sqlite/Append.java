package io.sluice.store.sqlite;

import com.google.protobuf.ByteString;
import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.TopicConfig;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * Appends messages to one topic (created if absent) with contiguous sequences and one timestamp,
 * deciding the publish guarantees inside the writer's transaction (see {@code Store.append}): each
 * dedup id is looked up in what this transaction stored and in the topic's remembered ids; then the
 * expectation of the topic's last sequence, then a DISCARD_NEW topic's limits; duplicates are
 * answered before both. A refusal writes nothing and leaves the rest of the transaction alone. A dead
 * letter ({@link #deadLetter}) is never refused for the topic's limits: it records the limit it goes
 * over instead ({@link #overLimit}).
 */
final class Append extends WriteOp<List<Appended>> {
    private final String topic;
    private final List<NewMessage> messages;
    private final OptionalLong expectedLast;
    private final boolean deadLetter;
    /** After {@link #apply}: the limit a dead letter went over (why a publish would have been refused), or null. */
    SluiceException overLimit;
    /** Why this append may store no message (the disk is full), or null: it is answered only what needs no room. */
    private SluiceException noRoom;
    private int stored;

    Append(String topic, List<NewMessage> messages, OptionalLong expectedLast, Completion<List<Appended>> done) {
        this(topic, messages, expectedLast, false, done);
    }

    private Append(String topic, List<NewMessage> messages, OptionalLong expectedLast, boolean deadLetter,
                   Completion<List<Appended>> done) {
        super(done);
        this.topic = topic;
        this.messages = messages;
        this.expectedLast = expectedLast;
        this.deadLetter = deadLetter;
    }

    /**
     * The append of one dead letter, inside the transaction that settles it: stored whatever the
     * topic's max_messages and max_bytes (the message was accepted from its publisher already; refusing
     * it here would lose it), a limit it goes over kept in {@link #overLimit}.
     */
    static Append deadLetter(String topic, NewMessage message, Completion<List<Appended>> done) {
        return new Append(topic, List.of(message), OptionalLong.empty(), true, done);
    }

    /** This append stores no message: refused with {@code why} unless every message is a duplicate or it is refused. */
    void storesNothing(SluiceException why) {
        noRoom = why;
    }

    /** What the messages of the appends in {@code batch} would take at most in the database (the disk's check). */
    static long roomNeeded(List<WriteOp<?>> batch) {
        long bytes = 0;
        for (WriteOp<?> op : batch) {
            if (op instanceof Append append) {
                for (NewMessage m : append.messages) {
                    bytes += m.size() + 256;   // the row's other columns, the index entries, a page's slack
                }
            }
        }
        return 2 * bytes;
    }

    /** After {@link #apply}: the messages it stored (none when refused or only duplicates). */
    @Override
    int messageCount() {
        return stored;
    }

    @Override
    boolean commutesWithPendingWrites() {
        return true;
    }

    @Override
    List<Appended> apply(WriteTx tx) throws SQLException {
        stored = 0;
        TopicRow existing = tx.find(topic);
        int n = messages.size();
        var results = new Appended[n];
        int[] firstInBatch = new int[n];   // a later copy of a dedup id in this append: the index of the first
        Arrays.fill(firstInBatch, -1);
        Map<String, Integer> seen = null;
        int fresh = 0;
        long freshBytes = 0;
        long largest = 0;
        for (int i = 0; i < n; i++) {
            String dedupId = messages.get(i).dedupId();
            if (dedupId != null) {
                Appended original = existing == null ? null
                        : tx.dedup.original(existing, dedupId, tx.now, tx.dedupWindowOf(existing));
                if (original != null) {
                    results[i] = original.asDuplicate();
                    continue;
                }
                if (seen == null) {
                    seen = new HashMap<>();
                }
                Integer first = seen.putIfAbsent(dedupId, i);
                if (first != null) {
                    firstInBatch[i] = first;
                    continue;
                }
            }
            fresh++;
            long size = messages.get(i).size();
            freshBytes += size;
            largest = Math.max(largest, size);
        }
        if (fresh == 0) {
            return List.of(results);
        }
        overLimit = null;
        SluiceException refusal = refusal(tx, existing, fresh, freshBytes, largest);
        if (refusal != null && deadLetter) {
            overLimit = refusal;   // a dead letter has no expectation: only a limit can refuse it
        } else if (refusal != null) {
            return refuse(refusal);
        }
        if (noRoom != null) {
            return refuse(noRoom);
        }
        SluiceException tooMany = deadLetter ? null : tx.tooManyTopics(topic);
        if (tooMany != null) {
            return refuse(tooMany);
        }
        stored = fresh;
        TopicRow row = tx.findOrCreate(topic);
        var insert = tx.insertMessage;
        long seq = 0;
        for (int i = 0; i < n; i++) {
            if (results[i] != null || firstInBatch[i] >= 0) {
                continue;
            }
            NewMessage m = messages.get(i);
            seq = tx.nextSequence();
            UUID id = MessageIds.create(tx.now, seq);
            byte[] payload = bytesOf(m.payload());
            byte[] attrs = Attributes.encode(m.attributes());
            byte[] mid = MessageIds.toBytes(id);
            insert.setLong(1, seq);
            insert.setLong(2, row.id);
            insert.setBytes(3, mid);
            insert.setLong(4, tx.now);
            insert.setBytes(5, payload);
            insert.setBytes(6, attrs);
            insert.setLong(7, checksum(payload, attrs));
            insert.setLong(8, tx.appends.nextPosition(row));
            insert.setLong(9, tx.appends.appendBytes(row, seq, m.size()));
            insert.addBatch();   // executed with every other append of this commit, see WriteTx.flush
            results[i] = new Appended(id, seq, tx.now);
            if (m.dedupId() != null) {
                tx.dedup.remember(row, m.dedupId(), results[i], mid);
            }
        }
        for (int i = 0; i < n; i++) {
            if (firstInBatch[i] >= 0) {
                results[i] = results[firstInBatch[i]].asDuplicate();
            }
        }
        tx.insertsBatched(fresh);
        tx.appends.appended(row, seq);
        return new ArrayList<>(Arrays.asList(results));
    }

    /**
     * Why the new messages are refused: a stale expectation, a message larger than the topic's byte
     * limit (it could never be retained: a DISCARD_OLD topic would remove it at once), or a DISCARD_NEW
     * topic at its limit; null when not.
     */
    private SluiceException refusal(WriteTx tx, TopicRow row, int fresh, long freshBytes, long largest) {
        long last = row == null ? 0 : tx.lastSequenceOf(row);
        if (expectedLast.isPresent() && expectedLast.getAsLong() != last) {
            return new SluiceException.FailedPrecondition("topic " + topic + ": expected last sequence "
                    + Long.toUnsignedString(expectedLast.getAsLong()) + ", but it is " + last);
        }
        TopicConfig config = row == null ? tx.topicDefaults() : tx.configOf(row);
        SluiceException tooLarge = config.tooLarge(topic, largest);
        if (tooLarge != null) {
            return tooLarge;
        }
        if (config.discard() != TopicConfig.Discard.NEW) {
            return null;
        }
        long held = row == null ? 0 : Math.max(0, tx.appends.lastPositionOf(row) - row.firstPosition + 1);
        if (config.maxMessages() > 0 && held + fresh > config.maxMessages()) {
            return full("max_messages=" + config.maxMessages());
        }
        long bytes = held == 0 ? 0 : tx.appends.lastBytesOf(row) - row.firstBytes;
        if (config.maxBytes() > 0 && bytes + freshBytes > config.maxBytes()) {
            return full("max_bytes=" + config.maxBytes());
        }
        return null;
    }

    private SluiceException full(String limit) {
        return new SluiceException.TopicFull("topic " + topic + " is full: " + limit + " (discard policy NEW)");
    }

    private static byte[] bytesOf(ByteString payload) {
        return payload.toByteArray();   // JDBC binds arrays only: the one copy on the write path
    }
}
