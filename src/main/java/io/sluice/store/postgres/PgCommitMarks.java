package io.sluice.store.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Commit marks ({@code commit_marks}, {@link PgSchemaV5}): how the writer learns whether a COMMIT
 * whose answer never arrived took effect. Every write transaction sets its store run's row to the
 * transaction's number, in the statement that takes the counter row ({@link PgReserve}). After the
 * connection broke during a COMMIT, {@link #committed} on a new connection first locks the counter
 * row, which the doubtful transaction holds until it has ended (committed or rolled back, and a
 * commit is visible to new statements before its locks are released), then reads the mark: the
 * transaction's own number means it committed, anything else that it did not.
 *
 * <p>Each run has one row, so the table holds one row per broker; the rows of runs gone for an hour
 * are removed by {@link #prune}. Used by the writer thread only.
 */
final class PgCommitMarks {
    private PgCommitMarks() {
    }

    /**
     * What a mark says of one transaction: whether it committed and, for a one-statement append
     * ({@link PgFastAppend}), the sequence before its first message and its timestamp.
     */
    record Outcome(boolean committed, long base, long ts) {
    }

    /**
     * Whether the run's write transaction {@code txn} committed; waits at most {@code lockTimeoutMillis}
     * for it to end (an SQLException with state 55P03 when it has not by then). Ends its own
     * transaction with a rollback. {@code c} is a writer connection (autocommit off) other than the
     * one the transaction ran on.
     */
    static Outcome committed(Connection c, long epoch, long txn, long lockTimeoutMillis) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET LOCAL lock_timeout = " + Math.max(1, lockTimeoutMillis));
            st.executeQuery("SELECT 1 FROM sluice_counter WHERE id = 1 FOR UPDATE").close();
            try (PreparedStatement ps = c.prepareStatement("SELECT txn, base, ts FROM commit_marks WHERE epoch = ?")) {
                ps.setLong(1, epoch);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getLong(1) == txn) {
                        return new Outcome(true, rs.getLong(2), rs.getLong(3));
                    }
                    return new Outcome(false, 0, 0);
                }
            }
        } finally {
            c.rollback();
        }
    }

    /** Removes the marks of runs that are gone (no row in {@code store_runs}) and were not set for an hour. Commits. */
    static void prune(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM commit_marks m WHERE m.at < now() - interval '1 hour' "
                    + "AND NOT EXISTS (SELECT 1 FROM store_runs r WHERE r.epoch = m.epoch)");
        }
        c.commit();
    }
}
