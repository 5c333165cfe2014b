package io.sluice.store.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;

/** Told by the writer of its connections and transactions, to announce commits to other brokers. */
interface PgCommitAnnouncer {
    /** A new connection of the writer. */
    void connected(Connection c) throws SQLException;

    /** A notification to send in the transaction, on {@code channel}. */
    record Notice(String channel, String payload) {
    }

    /**
     * Last in each transaction, before its commit: each topic it appended to, with its last sequence,
     * and the other changes it made that other brokers are told of; sent as a statement of its own.
     */
    default void beforeCommit(Connection c, Map<String, Long> appended, PgEvents events) throws SQLException {
        Notice notice = notice(appended, events);
        if (notice != null) {
            try (var st = c.prepareStatement("SELECT pg_notify(?, ?)")) {
                st.setString(1, notice.channel());
                st.setString(2, notice.payload());
                st.executeQuery().close();
            }
        }
    }

    /**
     * As {@link #beforeCommit}, for a transaction that sends the notification in its last statement
     * itself: what to send, or null when there is nothing to tell. Called once per transaction, after
     * its last change.
     */
    Notice notice(Map<String, Long> appended, PgEvents events);

    /** The transaction committed. */
    void committed();

    /** The channel the writer's notifications go on (a statement that sends its own, {@link PgFastAppend}). */
    String channel();

    /**
     * A transaction that sent its notification itself committed these appends (each topic with its
     * last sequence, known only after the commit): answers those the listener is still to hear of
     * (a poll may have found one first), and records them as told.
     */
    Map<String, Long> committedAppends(Map<String, Long> appended);

    /** The transaction did not commit (or may not have). */
    void rolledBack();
}
