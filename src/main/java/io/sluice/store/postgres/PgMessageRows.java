package io.sluice.store.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;

/**
 * The message rows a write transaction inserts, sent as arrays in one statement per flush ({@code
 * INSERT ... SELECT ... FROM unnest(...)}): one parameter set of nine arrays however many rows, instead
 * of nine parameters per row; at the end of a transaction, in the same statement (and round trip) as
 * the update of the topics appended to. Used by the writer thread only.
 */
final class PgMessageRows implements AutoCloseable {
    private static final int INITIAL = 64;
    /** Buffers grown past this are given back after their transaction. */
    private static final int KEPT = 8192;
    private static final String INSERT = """
            INSERT INTO messages (topic_id, seq, pos, mid, ts, payload, attrs, crc, bstart)
            SELECT u.topic_id, u.seq, u.pos, u.mid, ?::bigint, u.payload, u.attrs, u.crc, u.bstart
            FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bytea[], ?::bytea[], ?::bytea[], ?::bigint[],
                        ?::bigint[]) AS u(topic_id, seq, pos, mid, payload, attrs, crc, bstart)""";
    private static final String UPDATE_TOPICS = """
            UPDATE topics t SET last_seq = v.last_seq, last_pos = v.last_pos, last_bytes = v.last_bytes
            FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS v(id, last_seq, last_pos, last_bytes)
            WHERE t.id = v.id""";

    private final PreparedStatement insert;
    private final PreparedStatement update;
    private final PreparedStatement insertAndUpdate;
    private final PreparedStatement insertUpdateAndNotify;
    private long[] topicIds;
    private long[] seqs;
    private long[] positions;
    private byte[][] mids;
    private byte[][] payloads;
    private byte[][] attrs;
    private long[] crcs;
    private long[] bytesBefore;
    private int size;

    PgMessageRows(Connection c) throws SQLException {
        insert = c.prepareStatement(INSERT);
        update = c.prepareStatement(UPDATE_TOPICS);
        insertAndUpdate = c.prepareStatement("WITH appended AS (" + INSERT + ")\n" + UPDATE_TOPICS);
        insertUpdateAndNotify = c.prepareStatement("WITH appended AS (" + INSERT + "),\nupdated AS ("
                + UPDATE_TOPICS + ")\nSELECT pg_notify(?, ?)");
        allocate(INITIAL);
    }

    private void allocate(int capacity) {
        topicIds = new long[capacity];
        seqs = new long[capacity];
        positions = new long[capacity];
        mids = new byte[capacity][];
        payloads = new byte[capacity][];
        attrs = new byte[capacity][];
        crcs = new long[capacity];
        bytesBefore = new long[capacity];
    }

    /** Adds one row to be inserted at the next {@link #insert} or {@link #insertAndUpdate}. */
    void add(long topicId, long seq, long pos, byte[] mid, byte[] payload, byte[] attributes, long crc, long before) {
        if (size == topicIds.length) {
            int capacity = size * 2;
            topicIds = Arrays.copyOf(topicIds, capacity);
            seqs = Arrays.copyOf(seqs, capacity);
            positions = Arrays.copyOf(positions, capacity);
            mids = Arrays.copyOf(mids, capacity);
            payloads = Arrays.copyOf(payloads, capacity);
            attrs = Arrays.copyOf(attrs, capacity);
            crcs = Arrays.copyOf(crcs, capacity);
            bytesBefore = Arrays.copyOf(bytesBefore, capacity);
        }
        topicIds[size] = topicId;
        seqs[size] = seq;
        positions[size] = pos;
        mids[size] = mid;
        payloads[size] = payload;
        attrs[size] = attributes;
        crcs[size] = crc;
        bytesBefore[size] = before;
        size++;
    }

    /** Rows added since the last insert. */
    int size() {
        return size;
    }

    /** Inserts the rows added, all stamped {@code ts}, in one statement. */
    void insert(long ts) throws SQLException {
        bindRows(insert, ts);
        insert.executeUpdate();
        clear();
    }

    /** Writes each topic's last sequence, position and bytes, in one statement. */
    void update(List<PgWriteTx.TopicState> topics) throws SQLException {
        bindTopics(update, 1, topics);
        update.executeUpdate();
    }

    /**
     * {@link #insert} and {@link #update} in one statement; with a {@code notice}, that statement
     * also sends it (the transaction's last round trip before its commit is this one).
     */
    void insertAndUpdate(long ts, List<PgWriteTx.TopicState> topics, PgCommitAnnouncer.Notice notice)
            throws SQLException {
        if (notice == null) {
            bindRows(insertAndUpdate, ts);
            bindTopics(insertAndUpdate, 10, topics);
            insertAndUpdate.executeUpdate();
        } else {
            bindRows(insertUpdateAndNotify, ts);
            bindTopics(insertUpdateAndNotify, 10, topics);
            insertUpdateAndNotify.setString(14, notice.channel());
            insertUpdateAndNotify.setString(15, notice.payload());
            insertUpdateAndNotify.executeQuery().close();
        }
        clear();
    }

    private void bindRows(PreparedStatement st, long ts) throws SQLException {
        st.setLong(1, ts);
        st.setObject(2, Arrays.copyOf(topicIds, size));
        st.setObject(3, Arrays.copyOf(seqs, size));
        st.setObject(4, Arrays.copyOf(positions, size));
        st.setObject(5, Arrays.copyOf(mids, size));
        st.setObject(6, Arrays.copyOf(payloads, size));
        st.setObject(7, Arrays.copyOf(attrs, size));
        st.setObject(8, Arrays.copyOf(crcs, size));
        st.setObject(9, Arrays.copyOf(bytesBefore, size));
    }

    private static void bindTopics(PreparedStatement st, int first, List<PgWriteTx.TopicState> topics)
            throws SQLException {
        int n = topics.size();
        long[] ids = new long[n];
        long[] lastSeqs = new long[n];
        long[] lastPositions = new long[n];
        long[] lastBytes = new long[n];
        for (int i = 0; i < n; i++) {
            PgWriteTx.TopicState row = topics.get(i);
            ids[i] = row.id;
            lastSeqs[i] = row.lastSeq;
            lastPositions[i] = row.lastPos;
            lastBytes[i] = row.lastBytes;
        }
        st.setObject(first, ids);
        st.setObject(first + 1, lastSeqs);
        st.setObject(first + 2, lastPositions);
        st.setObject(first + 3, lastBytes);
    }

    /** Forgets the rows added (after an insert, or a rollback). */
    void clear() {
        if (topicIds.length > KEPT) {
            allocate(INITIAL);
        } else {
            Arrays.fill(mids, 0, size, null);
            Arrays.fill(payloads, 0, size, null);
            Arrays.fill(attrs, 0, size, null);
        }
        size = 0;
    }

    @Override
    public void close() throws SQLException {
        insert.close();
        update.close();
        insertAndUpdate.close();
        insertUpdateAndNotify.close();
    }
}
