package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.TopicInfo;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.zip.CRC32C;

/**
 * One change queued to the writer. {@link #apply} runs inside the writer's transaction and
 * computes the result; {@link #complete} or {@link #fail} hands it on after the commit or rollback.
 * Everything here runs on the writer thread.
 */
abstract sealed class WriteOp<T> permits Append, ConfigureTopic, WriteOp.EnsureTopic, WriteOp.Ack,
        WriteOp.ResetCursor, WriteOp.DeleteGroup, WriteOp.DeleteTopic, WriteOp.Purge, WriteOp.SetMaxPageCount,
        WriteOp.GroupWrite, WriteOp.Barrier, WriteOp.Stop {
    private static final System.Logger LOG = System.getLogger(WriteOp.class.getName());
    private final Completion<T> done;
    private T result;
    private SluiceException refusal;   // this operation alone is refused; the transaction goes on
    /** True while the operation holds one of the writer queue's slots (writer-internal). */
    boolean holdsSlot;
    /**
     * True once the operation waited to be answered by a later transaction ({@link WaitingLeases}):
     * then it is answered once only, by whichever path gets to it first.
     */
    boolean waited;
    /** True while it waits ({@link WaitingLeases}): the transaction that ran it does not answer it. */
    boolean parked;
    private boolean answered;

    WriteOp(Completion<T> done) {
        this.done = done;
    }

    final void run(WriteTx tx) throws SQLException {
        refusal = null;   // run again (after a failed transaction, or while waiting): decided anew
        result = apply(tx);
    }

    /**
     * Called from {@link #apply} by an operation that writes nothing and must be refused on its own
     * (a limit), without failing the rest of the transaction: its caller hears {@code why} after the commit.
     */
    final <R> R refuse(SluiceException why) {
        refusal = why;
        return null;
    }

    abstract T apply(WriteTx tx) throws SQLException;

    /**
     * True when the inserts and acks batched before this operation may be written after it:
     * appends and acks. Anything else (a cursor reset, a deletion) sees them written first.
     */
    boolean commutesWithPendingWrites() {
        return false;
    }

    /** How many messages this operation added when it ran, for the batch figures. */
    int messageCount() {
        return 0;
    }

    /** Hands the result on; a caller's completion that throws is logged, never allowed to stop the writer. */
    final void complete() {
        if (waited && answered) {
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
            LOG.log(System.Logger.Level.ERROR, "a completion failed after its commit", e);
        }
    }

    /** Hands the failure on; as {@link #complete}, a completion that throws is logged. */
    final void fail(SluiceException e) {
        if (waited && answered) {
            return;
        }
        answered = true;
        result = null;
        try {
            done.failed(e);
        } catch (RuntimeException thrown) {
            LOG.log(System.Logger.Level.ERROR, "a completion failed while being told of a failure", thrown);
        }
    }

    /** True when the group exists on the topic (as this transaction sees it). */
    private static boolean exists(WriteTx tx, TopicRow row, String group) throws SQLException {
        var select = tx.selectCursor;
        select.setLong(1, row.id);
        select.setString(2, group);
        try (ResultSet rs = select.executeQuery()) {
            return rs.next();
        }
    }

    /** The checksum stored with each row: CRC32C over payload and stored attributes. */
    static long checksum(byte[] payload, byte[] attrs) {
        CRC32C crc = new CRC32C();
        crc.update(payload);
        crc.update(attrs);
        return crc.getValue();
    }

    /** Creates the topic if absent; answers its description. */
    static final class EnsureTopic extends WriteOp<TopicInfo> {
        private final String topic;

        EnsureTopic(String topic, Completion<TopicInfo> done) {
            super(done);
            this.topic = topic;
        }

        @Override
        TopicInfo apply(WriteTx tx) throws SQLException {
            SluiceException tooMany = tx.tooManyTopics(topic);
            return tooMany != null ? refuse(tooMany) : tx.findOrCreate(topic).info();
        }
    }

    /** Moves a group's cursor forward to {@code sequence} (never back): a cumulative ack. */
    static final class Ack extends WriteOp<Boolean> {
        private final String topic;
        private final String group;
        private final long sequence;

        Ack(String topic, String group, long sequence, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
            this.sequence = sequence;
        }

        @Override
        Boolean apply(WriteTx tx) {
            TopicRow row = tx.find(topic);
            if (row == null) {
                return false;
            }
            tx.ack(row, group, sequence);   // written once per group per commit, see WriteTx.flushAcks
            return true;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }
    }

    /** Sets a group's cursor to any sequence, creating the group if absent; false when the topic is absent. */
    static final class ResetCursor extends WriteOp<Boolean> {
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
        Boolean apply(WriteTx tx) throws SQLException {
            TopicRow row = tx.find(topic);
            if (row == null) {
                return false;
            }
            if (!exists(tx, row, group)) {
                SluiceException full = tx.tooManyGroups(row);
                if (full != null) {
                    return refuse(full);
                }
            }
            var set = tx.setCursor;
            set.setLong(1, row.id);
            set.setString(2, group);
            set.setLong(3, cursor);
            set.setLong(4, tx.now);
            set.executeUpdate();
            tx.groups.reset(row, group);
            tx.waiting.voided(topic, group);
            tx.cursorReset(topic, group, cursor);
            return true;
        }
    }

    /** Removes a group and its cursor; false when there was none. */
    static final class DeleteGroup extends WriteOp<Boolean> {
        private final String topic;
        private final String group;

        DeleteGroup(String topic, String group, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
            this.group = group;
        }

        @Override
        Boolean apply(WriteTx tx) throws SQLException {
            TopicRow row = tx.find(topic);
            if (row == null) {
                return false;
            }
            var delete = tx.deleteGroup;
            delete.setLong(1, row.id);
            delete.setString(2, group);
            boolean deleted = delete.executeUpdate() > 0;
            if (deleted) {
                tx.groups.reset(row, group);
                tx.cursorReset(topic, group, -1);
            }
            return deleted;
        }
    }

    /** Removes a topic with its messages and groups; false when there was none. */
    static final class DeleteTopic extends WriteOp<Boolean> {
        private final String topic;

        DeleteTopic(String topic, Completion<Boolean> done) {
            super(done);
            this.topic = topic;
        }

        @Override
        Boolean apply(WriteTx tx) throws SQLException {
            TopicRow row = tx.find(topic);
            if (row == null) {
                return false;
            }
            // A chunk of messages goes here (all of a small topic's); the rest later, a chunk per
            // transaction (Purge): removing a million rows at once would hold every publisher for
            // about a second and add 150 MB to the log.
            if (Purge.removeChunk(tx, row.id).more()) {
                tx.insertPurge.setLong(1, row.id);
                tx.insertPurge.setString(2, row.name);
                tx.insertPurge.setLong(3, tx.now);
                tx.insertPurge.executeUpdate();
                tx.purgesStarted.add(row);
            }
            tx.groups.topicDeleted(row);
            tx.deleteTopicGroups.setLong(1, row.id);
            tx.deleteTopicGroups.executeUpdate();
            tx.deleteTopicRow.setLong(1, row.id);
            tx.deleteTopicRow.executeUpdate();
            tx.topicDeleted(row);
            return true;
        }
    }

    /**
     * Removes a chunk of a deleted topic's messages (sized to take about {@link ChunkSize#TARGET_NANOS}
     * of the writer's time), and its entry in {@code purges} once none are left; answers what it
     * removed. The writer adds it to its transactions until the topic is purged, so no transaction
     * removes more than a chunk.
     */
    static final class Purge extends WriteOp<Purge.Chunk> {
        /** Messages removed by one chunk; {@code more}: it was full, so more may be left. */
        record Chunk(int removed, boolean more) {
        }

        final long topicId;

        Purge(long topicId, Completion<Chunk> done) {
            super(done);
            this.topicId = topicId;
        }

        @Override
        Chunk apply(WriteTx tx) throws SQLException {
            Chunk chunk = removeChunk(tx, topicId);
            if (!chunk.more()) {
                tx.endPurge.setLong(1, topicId);
                tx.endPurge.executeUpdate();
            }
            return chunk;
        }

        /** Removes a chunk of the topic's messages, the oldest first, and sizes the next by how long it took. */
        static Chunk removeChunk(WriteTx tx, long topicId) throws SQLException {
            int size = tx.chunks.rows();
            long started = System.nanoTime();
            tx.purgeChunk.setLong(1, topicId);
            tx.purgeChunk.setInt(2, size);
            int removed = tx.purgeChunk.executeUpdate();
            if (removed == size) {
                tx.chunks.took(System.nanoTime() - started);
                return new Chunk(removed, true);
            }
            // Its dedup ids go last, a chunk at a time too.
            boolean more = tx.dedup.forgetTopic(topicId, size - removed) == size - removed;
            return new Chunk(removed, more);
        }
    }

    /**
     * Sets SQLite's page limit on the write connection (the writer's, used here on its thread);
     * answers the limit in force. Not transactional: it holds even if its batch fails.
     */
    static final class SetMaxPageCount extends WriteOp<Long> {
        private final Connection connection;
        private final long pages;

        SetMaxPageCount(Connection connection, long pages, Completion<Long> done) {
            super(done);
            this.connection = connection;
            this.pages = pages;
        }

        @Override
        Long apply(WriteTx tx) throws SQLException {
            try (Statement st = connection.createStatement();
                 ResultSet rs = st.executeQuery("PRAGMA max_page_count = " + pages)) {
                return rs.next() ? rs.getLong(1) : -1L;
            }
        }
    }

    /**
     * The writes of consumer groups' delivery state, defined in their own files (GroupWrites): they
     * keep their rows in {@link WriteTx#groups}, written at the transaction's flush, so by default
     * they commute with the appends and acks batched before them.
     */
    abstract static non-sealed class GroupWrite<T> extends WriteOp<T> {
        GroupWrite(Completion<T> done) {
            super(done);
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }
    }

    /**
     * Writes nothing; answered with the transaction that commits what was queued before it
     * ({@link io.sluice.store.Store#barrier}).
     */
    static final class Barrier extends WriteOp<Void> {
        Barrier(Completion<Void> done) {
            super(done);
        }

        @Override
        Void apply(WriteTx tx) {
            return null;
        }

        @Override
        boolean commutesWithPendingWrites() {
            return true;
        }
    }

    /** Marks the end of the queue at shutdown: the writer stops after the operations before it. */
    static final class Stop extends WriteOp<Void> {
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
        Void apply(WriteTx tx) {
            return null;
        }
    }
}
