package io.sluice.store.postgres;

import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.TopicConfig;
import io.sluice.store.TopicInfo;
import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * One change queued to the PostgreSQL writer. {@link #apply} runs inside the writer's
 * transaction and computes the result; {@link #complete} or {@link #fail} hands it on after the
 * commit or rollback. Everything here runs on the writer thread.
 */
abstract class PgWriteOp<T> {
    private static final System.Logger LOG = System.getLogger(PgWriteOp.class.getName());
    private final Completion<T> done;
    private T result;
    private SluiceException refusal;   // this operation alone is refused; the transaction goes on
    /** True while the operation holds one of the writer queue's slots (writer-internal). */
    boolean holdsSlot;
    private boolean answered;   // told exactly once, whatever path reaches it

    PgWriteOp(Completion<T> done) {
        this.done = done;
    }

    final void run(PgWriteTx tx) throws SQLException {
        result = apply(tx);
    }

    /** Sets the result computed outside a {@link PgWriteTx} (a one-statement append, {@link PgFastAppend}). */
    final void computed(T value) {
        result = value;
    }

    abstract T apply(PgWriteTx tx) throws SQLException;

    /** Refuses this operation alone (a limit): its caller hears {@code why} after the commit. */
    final <R> R refuse(SluiceException why) {
        refusal = why;
        return null;
    }

    /** True when the inserts and acks batched before this operation may be written after it. */
    boolean commutesWithPendingWrites() {
        return false;
    }

    /** How many messages (so sequences) this operation adds. */
    int messageCount() {
        return 0;
    }

    /** The topic this operation appends to (its row is read with the counter row), or null. */
    String appendsTo() {
        return null;
    }

    /** Hands the result on; a completion that throws is logged, never allowed to stop the writer. */
    final void complete() {
        if (answered) {
            return;
        }
        answered = true;
        try {
            if (refusal != null) {
                done.failed(refusal);
            } else {
                done.committed(result);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "a completion failed after its commit", e);
        }
        refusal = null;
    }

    /** Hands the failure on; as {@link #complete}, a completion that throws is logged. */
    final void fail(SluiceException e) {
        if (answered) {
            return;
        }
        answered = true;
        result = null;
        try {
            done.failed(e);
        } catch (RuntimeException thrown) {
            LOG.log(Level.ERROR, "a completion failed while being told of a failure", thrown);
        }
    }

    /** The checksum stored with each row: CRC32C over payload and stored attributes. */
    static long checksum(byte[] payload, byte[] attrs) {
        CRC32C crc = new CRC32C();
        crc.update(payload);
        crc.update(attrs);
        return crc.getValue();
    }

    /**
     * Appends messages to one topic (created if absent) with contiguous sequences and one timestamp:
     * duplicates of dedup ids stored within the topic's window are answered with their originals,
     * then the expected last sequence is checked, then the fresh messages are stored.
     */
    static final class Append extends PgWriteOp<List<Appended>> {
        private final String topic;
        private final List<NewMessage> messages;
        private final OptionalLong expectedLast;
        private final boolean deadLetter;
        /** After {@link #apply}: the limit a dead letter went over (why a publish would have been refused), or null. */
        SluiceException overLimit;

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
         * topic's max_messages and max_bytes (the message was accepted from its publisher already;
         * refusing it here would lose it), a limit it goes over kept in {@link #overLimit}.
         */
        static Append deadLetter(String topic, NewMessage message, Completion<List<Appended>> done) {
            return new Append(topic, List.of(message), OptionalLong.empty(), true, done);
        }

        @Override
        int messageCount() {
            return messages.size();
        }

        @Override
        String appendsTo() {
            return topic;
        }

        /** The messages, for {@link PgFastAppend}. */
        List<NewMessage> messages() {
            return messages;
        }

        /** True without an expected last sequence or any dedup id: nothing to look up before storing. */
        boolean plain() {
            if (expectedLast.isPresent()) {
                return false;
            }
            for (NewMessage m : messages) {
                if (m.dedupId() != null) {
                    return false;
                }
            }
            return true;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }

        @Override
        List<Appended> apply(PgWriteTx tx) throws SQLException {
            PgWriteTx.TopicState row = tx.find(topic);
            var results = new Appended[messages.size()];
            var firstInAppend = new HashMap<String, Integer>();
            long window = 0;
            int fresh = 0;
            for (int i = 0; i < results.length; i++) {
                String dedupId = messages.get(i).dedupId();
                if (dedupId != null) {
                    if (row != null && window == 0) {
                        window = tx.topicConfigs.dedupWindow(row.id);
                    }
                    Appended original = row == null ? null : tx.topicConfigs.original(row.id, dedupId, tx.now, window);
                    if (original != null) {
                        results[i] = original;
                        continue;
                    }
                    if (firstInAppend.putIfAbsent(dedupId, i) != null) {
                        continue;   // answered as a duplicate of the first below
                    }
                }
                fresh++;
            }
            if (fresh == 0) {
                return List.of(results);
            }
            long last = row == null ? 0 : row.lastSeq;
            if (expectedLast.isPresent() && expectedLast.getAsLong() != last) {
                return refuse(new SluiceException.FailedPrecondition("topic " + topic + ": expected last sequence "
                        + Long.toUnsignedString(expectedLast.getAsLong()) + ", but it is " + last));
            }
            TopicConfig config = row == null ? tx.topicDefaults : tx.configOf(row);
            long freshBytes = 0;
            long largest = 0;
            for (int i = 0; i < results.length; i++) {
                NewMessage m = messages.get(i);
                if (results[i] == null && (m.dedupId() == null || firstInAppend.get(m.dedupId()) == i)) {
                    freshBytes += m.size();
                    largest = Math.max(largest, m.size());
                }
            }
            overLimit = null;
            SluiceException limit = config.tooLarge(topic, largest);
            if (limit == null && config.discard() == TopicConfig.Discard.NEW
                    && (config.maxMessages() > 0 || config.maxBytes() > 0)) {
                limit = tx.retention.full(tx, topic, row, config, fresh, freshBytes);
            }
            if (limit != null && deadLetter) {
                overLimit = limit;
            } else if (limit != null) {
                return refuse(limit);
            }
            SluiceException tooMany = deadLetter ? null : tx.tooManyTopics(topic);
            if (tooMany != null) {
                return refuse(tooMany);
            }
            row = tx.findOrCreate(topic);
            if (window == 0 && !firstInAppend.isEmpty()) {
                window = tx.topicConfigs.dedupWindow(row.id);
            }
            for (int i = 0; i < results.length; i++) {
                NewMessage m = messages.get(i);
                if (results[i] != null || (m.dedupId() != null && firstInAppend.get(m.dedupId()) != i)) {
                    continue;
                }
                long seq = tx.nextSequence();
                UUID id = MessageIds.create(tx.now, seq);
                byte[] mid = MessageIds.toBytes(id);
                byte[] payload = m.payload().toByteArray();   // JDBC binds arrays only
                byte[] attrs = Attributes.encode(m.attributes());
                tx.insert(row, seq, mid, payload, attrs, checksum(payload, attrs), m.size());
                results[i] = new Appended(id, seq, tx.now);
                if (m.dedupId() != null) {
                    tx.topicConfigs.remember(row.id, m.dedupId(), seq, mid, tx.now);
                }
            }
            for (int i = 0; i < results.length; i++) {
                if (results[i] == null) {
                    results[i] = results[firstInAppend.get(messages.get(i).dedupId())].asDuplicate();
                }
            }
            if (!firstInAppend.isEmpty()) {
                tx.topicConfigs.purge(row.id, tx.now, window);
            }
            return List.of(results);
        }
    }

    /** Creates the topic if absent; answers its description. */
    static final class EnsureTopic extends PgWriteOp<TopicInfo> {
        private final String topic;

        EnsureTopic(String topic, Completion<TopicInfo> done) {
            super(done);
            this.topic = topic;
        }

        @Override
        TopicInfo apply(PgWriteTx tx) throws SQLException {
            SluiceException tooMany = tx.tooManyTopics(topic);
            if (tooMany != null) {
                return refuse(tooMany);
            }
            var row = tx.findOrCreate(topic);
            return new TopicInfo(row.name, row.createdAt);
        }
    }

    /**
     * Moves a group's cursor forward to {@code sequence} (never back): a cumulative ack; under a claim
     * older than the group's, the cursor stays where it is.
     */
    static final class Ack extends PgWriteOp<Boolean> {
        private final String topic;
        private final String group;
        private final long claim;
        private final long fence;
        private final long sequence;

        /** {@code fence}: the reset the claim's stream had been told of when it acked ({@link PgResetFences}). */
        Ack(String topic, String group, long claim, long fence, long sequence, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.claim = claim;
            this.fence = fence;
            this.sequence = sequence;
        }

        @Override
        Boolean apply(PgWriteTx tx) throws SQLException {
            var row = tx.find(topic);
            if (row == null) {
                return false;
            }
            tx.ack(row, group, sequence, claim, fence);
            return true;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }
    }

    /** Sets a group's cursor to any sequence, creating the group if absent; false when the topic is absent. */
    static final class ResetCursor extends PgWriteOp<Boolean> {
        private final String topic;
        private final String group;
        private final long cursor;

        ResetCursor(String topic, String group, long cursor, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.cursor = cursor;
        }

        @Override
        Boolean apply(PgWriteTx tx) throws SQLException {
            var row = tx.find(topic);
            if (row == null) {
                return false;
            }
            if (tx.position(row, group) == null) {
                SluiceException full = tx.tooManyGroups(row);
                if (full != null) {
                    return refuse(full);
                }
            }
            tx.setCursor(row, group, cursor);
            return true;
        }
    }

    /** Removes a group and its cursor; false when there was none. */
    static final class DeleteGroup extends PgWriteOp<Boolean> {
        private final String topic;
        private final String group;

        DeleteGroup(String topic, String group, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
        }

        @Override
        Boolean apply(PgWriteTx tx) throws SQLException {
            var row = tx.find(topic);
            return row != null && tx.deleteGroup(row, group);
        }
    }

    /** Removes a topic with its messages and groups; false when there was none. */
    static final class DeleteTopic extends PgWriteOp<Boolean> {
        private final String topic;

        DeleteTopic(String topic, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
        }

        @Override
        Boolean apply(PgWriteTx tx) throws SQLException {
            var row = tx.find(topic);
            if (row == null) {
                return false;
            }
            tx.deleteTopic(row);
            return true;
        }
    }

    /**
     * Writes nothing; answered with the transaction that commits what was queued before it
     * ({@link io.sluice.store.Store#barrier}).
     */
    static final class Barrier extends PgWriteOp<Void> {
        Barrier(Completion<Void> done) {
            super(done);
        }

        @Override
        Void apply(PgWriteTx tx) {
            return null;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }
    }

    /** Marks the end of the queue at close: everything before it is committed, nothing after it. */
    static final class Stop extends PgWriteOp<Void> {
        Stop() {
            super(new Completion<>() {
                @Override
                public void committed(Void result) {
                }

                @Override
                public void failed(SluiceException error) {
                }
            });
        }

        @Override
        Void apply(PgWriteTx tx) {
            return null;
        }
    }
}
