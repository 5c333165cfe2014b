package io.sluice.store.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;

/** Told by the writer of its connections and transactions, to announce commits to other brokers. */
interface PgCommitAnnouncer {
    /** A new connection of the writer. */
    void connected(Connection c) throws SQLException;

    /**
     * Last in each transaction, before its commit: each topic it appended to, with its last sequence,
     * and the other changes it made that other brokers are told of.
     */
    void beforeCommit(Connection c, Map<String, Long> appended, PgEvents events) throws SQLException;

    /** The transaction committed. */
    void committed();

    /** The transaction did not commit (or may not have). */
    void rolledBack();
}
