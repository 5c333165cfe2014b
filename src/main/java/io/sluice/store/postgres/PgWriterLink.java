package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.TimeUnit;

/**
 * The writer's connection to the database with the statements prepared on it ({@link PgWriteTx}):
 * opened when a batch needs it and again after it is lost, so the broker rides through a restart or
 * failover of the database. After the connection broke during a COMMIT, {@link #resolve} learns on
 * a new connection whether that COMMIT took effect ({@link PgCommitMarks}).
 *
 * <p>Threading: used by the writer thread only.
 */
final class PgWriterLink {
    private static final System.Logger LOG = System.getLogger(PgWriter.class.getName());
    /** After a failed attempt to connect, batches fail at once for this long instead of trying again. */
    private static final long RECONNECT_PAUSE_NANOS = 250_000_000;
    /** How long the writer tries to learn the outcome of a COMMIT whose answer never arrived. */
    static final long RESOLVE_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Prepares a transaction's statements on a new connection. */
    @FunctionalInterface
    interface Statements {
        PgWriteTx prepare(Connection c) throws SQLException;
    }

    private final PgConnector connector;
    private final Statements statements;
    private final PgCommitAnnouncer announce;
    private Connection connection;
    private PgWriteTx tx;
    private long connectFailedAt;
    private boolean connectFailed;
    private boolean unreachable;   // logged once per outage

    PgWriterLink(PgConnector connector, Statements statements, PgCommitAnnouncer announce) {
        this.connector = connector;
        this.statements = statements;
        this.announce = announce;
    }

    /** The open connection, or null. */
    Connection connection() {
        return connection;
    }

    /** The statements of the open connection, or null. */
    PgWriteTx tx() {
        return tx;
    }

    /** Opens the connection when there is none; the failure to answer the batch with, or null. */
    SluiceException connect() {
        if (connection != null) {
            return null;
        }
        if (connectFailed && System.nanoTime() - connectFailedAt < RECONNECT_PAUSE_NANOS) {
            return new SluiceException.Unavailable("the database at " + connector.where()
                    + " is unreachable; the broker is reconnecting, retry");
        }
        try {
            connection = connector.open(false);
            PgCommitMarks.prune(connection);
            tx = statements.prepare(connection);
            announce.connected(connection);
            connectFailed = false;
            if (unreachable) {
                unreachable = false;
                LOG.log(Level.INFO, "connected to the database again: " + connector.where());
            }
            return null;
        } catch (SQLException e) {
            drop();
            connectFailed = true;
            connectFailedAt = System.nanoTime();
            if (!unreachable) {
                unreachable = true;
                LOG.log(Level.WARNING, "cannot connect to the database at " + connector.where() + ": "
                        + PgErrors.describe(e) + "; writes fail as UNAVAILABLE until it answers");
            }
            return new SluiceException.Unavailable("the database at " + connector.where() + " is unreachable ("
                    + PgErrors.describe(e) + "); the broker is reconnecting, retry");
        }
    }

    /** True when {@code e} means the connection is lost; it is then dropped, to be opened again. */
    boolean lost(SQLException e) {
        boolean lost = PgErrors.connectionLost(e) || closed();
        if (lost) {
            drop();
        }
        return lost;
    }

    private boolean closed() {
        try {
            return connection == null || connection.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    /** Closes the connection and its statements (a transaction's bookkeeping stays readable). */
    void drop() {
        PgConnector.closeQuietly(tx);
        PgConnector.closeQuietly(connection);
        tx = null;
        connection = null;
    }

    /** Rolls the open transaction back; a session that refuses is replaced. */
    void rollback() {
        if (connection == null) {
            return;
        }
        try {
            connection.rollback();
        } catch (SQLException e) {
            // A rollback that fails leaves the session in an unknown state: start on a new one.
            drop();
        }
    }

    /**
     * After the connection broke during the COMMIT of the run's transaction {@code txn}: whether it
     * committed or not, learned on a new connection once that transaction has ended; null when that
     * could not be learned within {@link #RESOLVE_NANOS} (the database unreachable, or the transaction
     * not ended by then). The new connection stays open for the next batch.
     */
    PgCommitMarks.Outcome resolve(long epoch, long txn) {
        long deadline = System.nanoTime() + RESOLVE_NANOS;
        while (true) {
            connectFailed = false;   // no pause: the batch waits for this answer
            if (connect() == null) {
                try {
                    long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                    return PgCommitMarks.committed(connection, epoch, txn, left);
                } catch (SQLException e) {
                    LOG.log(Level.WARNING, "cannot learn the outcome of the interrupted COMMIT yet: "
                            + PgErrors.describe(e));
                    if (!lost(e)) {
                        rollback();
                    }
                }
            }
            if (deadline - System.nanoTime() <= 0) {
                return null;
            }
            try {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(RECONNECT_PAUSE_NANOS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
    }
}
