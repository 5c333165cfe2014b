package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import java.lang.System.Logger.Level;
import java.sql.SQLException;

/**
 * Turns PostgreSQL's failures into the broker's, by SQLSTATE, with a message naming the cause
 * (never the SQL). A lost connection, a server shutting down or starting, a standby that refuses
 * writes (the primary failed over) are {@code Unavailable}: the broker reconnects by itself.
 */
final class PgErrors {
    private static final System.Logger LOG = System.getLogger(PgWriter.class.getName());
    /** How long a statement waits for a lock other sessions hold (lock_timeout, set on every connection). */
    static final String LOCK_WAIT = "10s";
    private PgErrors() {
    }

    /**
     * True when the failure says nothing about the data and the connection must be opened again:
     * connection exceptions (class 08), the server shutting down or not yet accepting (57P0x), a
     * read-only server (25006: we reached a standby), or the driver's I/O failure without a state.
     */
    static boolean connectionLost(SQLException e) {
        String state = e.getSQLState();
        if (state == null) {
            return true;   // the driver's own I/O failures carry no state
        }
        return state.startsWith("08") || state.startsWith("57P") || state.equals("25006")
                || state.equals("53300");   // too many connections
    }

    /** The broker failure for a storage error met while {@code doing} something (e.g. "committing 12 writes"). */
    static SluiceException map(SQLException e, String doing) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        if (state.equals("25006")) {
            return new SluiceException.Unavailable("the database is read-only: a standby (after a failover the broker "
                    + "finds the new primary by itself) or default_transaction_read_only (" + doing + ": "
                    + describe(e) + "); retry");
        }
        if (state.equals("53300")) {
            return new SluiceException.Unavailable("the database refuses more connections (max_connections) ("
                    + doing + ": " + describe(e) + "); the broker connects again by itself, retry");
        }
        if (state.equals("57P01")) {   // the same state for pg_terminate_backend and a server shutting down
            return new SluiceException.Unavailable("the database ended the broker's connection (pg_terminate_backend, "
                    + "or the server shutting down) (" + doing + ": " + describe(e) + "); the broker reconnects by "
                    + "itself, retry");
        }
        if (connectionLost(e)) {
            return new SluiceException.Unavailable("the database is unreachable or failing over (" + doing + ": "
                    + describe(e) + "); the broker reconnects by itself, retry");
        }
        if (state.equals("55P03")) {
            return new SluiceException.Unavailable("waited " + LOCK_WAIT + " for a lock another database session "
                    + "holds on the broker's tables (" + doing + ": " + describe(e) + "); retry");
        }
        if (state.equals("57014")) {
            return new SluiceException.Unavailable("the database cancelled the statement (pg_cancel_backend or "
                    + "statement_timeout) (" + doing + ": " + describe(e) + "); retry");
        }
        if (state.equals("53100")) {
            return new SluiceException.DiskFull("the database server's disk is full (" + doing + "); free space and retry",
                    e);
        }
        if (state.startsWith("53") || state.equals("40001") || state.equals("40P01") || state.equals("55P03")) {
            return new SluiceException.Unavailable("the database is overloaded or busy (" + doing + ": "
                    + describe(e) + "); retry");
        }
        if (state.equals("XX001") || state.equals("XX002")) {
            return new SluiceException.Corrupted("the database reports damaged data (" + doing + "): " + describe(e));
        }
        return new SluiceException.StorageFailure("storage failed (" + doing + "): " + describe(e), e);
    }

    /** The server's own words for the failure, with its SQLSTATE. */
    static String describe(SQLException e) {
        String m = e.getMessage();
        String text = m == null ? "no message" : m.replaceAll("\\s+", " ").trim();
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            if (c instanceof java.net.UnknownHostException unknown) {   // the driver's words do not say which
                text += " (no address found for the host " + unknown.getMessage() + ")";
                break;
            }
        }
        return e.getSQLState() == null ? text : text + " [" + e.getSQLState() + "]";
    }

    /** For writes whose interrupted COMMIT (or one statement) was learned not to have taken effect. */
    static SluiceException notStored(int writes, Exception cause) {
        String why = cause instanceof SQLException sql ? describe(sql) : String.valueOf(cause.getMessage());
        return new SluiceException.Unavailable("the connection to the database was lost while storing " + writes
                + " writes (" + why + "), which did not take effect: nothing of them was stored; the broker "
                + "reconnects by itself, retry");
    }

    /**
     * What the writes of a failed write transaction are told (logged here); {@code lost}: the
     * connection was lost, {@code committing}: during the COMMIT, so whether it took effect is unknown.
     */
    static SluiceException ofFailedWrite(Exception e, boolean lost, boolean committing, int writes) {
        if (e instanceof SluiceException s) {
            return s;
        }
        if (!(e instanceof SQLException sql)) {
            LOG.log(Level.ERROR, "the writer failed", e);
            return new SluiceException.StorageFailure("the writer failed: " + e, e);
        }
        if (lost) {
            LOG.log(Level.WARNING, "lost the database connection " + (committing ? "during COMMIT" : "in a transaction")
                    + ": " + describe(sql) + "; reconnecting");
            if (committing) {
                return new SluiceException.Unavailable("the connection to the database was lost during the COMMIT of "
                        + writes + " writes: whether they were stored is unknown (" + describe(sql)
                        + "); they are not acknowledged, retry");
            }
            return map(sql, "committing " + writes + " writes");
        }
        SluiceException mapped = map(sql, "committing " + writes + " writes");
        LOG.log(Level.ERROR, mapped.getMessage(), e);
        return mapped;
    }
}
