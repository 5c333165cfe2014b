package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.TopicConfig;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * The first statement of every write transaction: sets the run's commit mark ({@link PgCommitMarks}),
 * reserves the transaction's sequences and advances the clock's high-water mark in the counter row
 * (locked until the commit: the write transactions of every broker run one after another there),
 * and, in the same round trip, reads and locks the rows of the topics the transaction appends to.
 *
 * <p>The topics are read after the counter row is locked (the subquery depends on its result), with
 * {@code FOR UPDATE}: a row changed by a transaction that committed while this one waited for the
 * counter row is read as that transaction left it, a row it deleted is not read. A topic created by
 * it is not seen (the statement's snapshot predates it), so a topic not found here is looked up again
 * by a statement of its own ({@link PgWriteTx#find}). Every writer locks the counter row before any
 * topic row, so these locks cannot deadlock. Used by the writer thread only.
 */
final class PgReserve implements AutoCloseable {
    private static final String MARK_AND_COUNT = """
            WITH mark AS (INSERT INTO commit_marks (epoch, txn) VALUES (?, ?)
                          ON CONFLICT (epoch) DO UPDATE SET txn = excluded.txn, at = now()),
                 c AS (UPDATE sluice_counter SET last_seq = last_seq + ?, last_ts = greatest(last_ts, ?)
                       WHERE id = 1 RETURNING last_seq, last_ts)
            """;
    private final Connection connection;
    private final PreparedStatement alone;
    private final PreparedStatement withTopics;
    /** The last sequence reserved and the transaction's timestamp, after {@link #run}. */
    long lastSeq;
    long ts;

    PgReserve(Connection c) throws SQLException {
        connection = c;
        alone = c.prepareStatement(MARK_AND_COUNT + "SELECT last_seq, last_ts FROM c");
        withTopics = c.prepareStatement(MARK_AND_COUNT + """
                SELECT c.last_seq, c.last_ts, t.name, t.id, t.created_at, t.last_seq, t.last_pos, t.last_bytes,
                       t.max_age_ms, t.max_bytes, t.max_messages, t.discard, t.dedup_window_ms
                FROM c LEFT JOIN LATERAL (SELECT * FROM topics WHERE name = ANY(?) AND c.last_seq IS NOT NULL
                                          FOR UPDATE) t ON true""");
    }

    /**
     * Runs the statement for transaction {@code txn} of run {@code epoch}, reserving {@code messages}
     * sequences at wall clock {@code clock}; the topics among {@code names} that exist go into {@code found}.
     */
    void run(long epoch, long txn, int messages, long clock, List<String> names, Map<String, PgWriteTx.TopicState> found)
            throws SQLException {
        PreparedStatement st = names.isEmpty() ? alone : withTopics;
        st.setLong(1, epoch);
        st.setLong(2, txn);
        st.setLong(3, messages);
        st.setLong(4, clock);
        Array array = null;
        if (!names.isEmpty()) {
            array = connection.createArrayOf("text", names.toArray());
            st.setArray(5, array);
        }
        try (ResultSet rs = st.executeQuery()) {
            if (!rs.next()) {
                throw new SluiceException.Corrupted("the counter row (sluice_counter) is missing from the database");
            }
            lastSeq = rs.getLong(1);
            ts = rs.getLong(2);
            if (array == null) {
                return;
            }
            do {
                String name = rs.getString(3);
                if (name != null) {
                    found.put(name, new PgWriteTx.TopicState(rs.getLong(4), name, rs.getLong(5), rs.getLong(6),
                            rs.getLong(7), rs.getLong(8), new TopicConfig(rs.getLong(9), rs.getLong(10),
                            rs.getLong(11), TopicConfig.Discard.valueOf(rs.getString(12)), rs.getLong(13))));
                }
            } while (rs.next());
        } finally {
            if (array != null) {
                array.free();
            }
        }
    }

    @Override
    public void close() throws SQLException {
        alone.close();
        withTopics.close();
    }
}
