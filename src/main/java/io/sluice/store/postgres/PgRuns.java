package io.sluice.store.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * The store runs on a database ({@code store_runs}): each open store inserts a row, says it is alive
 * every second (on the notification connection, {@link PgNotifications}), and removes its row when it
 * closes. A shared group's lease carries the run that granted it; a lease of a run that is gone (its
 * row removed, or silent for {@link PgLeases#RUN_GONE_SECONDS}) counts as released, as the port asks
 * of a lease of an earlier run. Times are the server's, never a broker's clock.
 */
final class PgRuns {
    private PgRuns() {
    }

    /** Registers a new run, forgetting runs silent for an hour; answers its epoch. Commits. */
    static long register(Connection c, long startedAt) throws SQLException {
        try (var st = c.createStatement()) {
            st.executeUpdate("DELETE FROM store_runs WHERE alive_at < now() - interval '1 hour'");
        }
        long epoch;
        try (PreparedStatement st = c.prepareStatement(
                "INSERT INTO store_runs (started_at) VALUES (?) RETURNING epoch")) {
            st.setLong(1, startedAt);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                epoch = rs.getLong(1);
            }
        }
        c.commit();
        return epoch;
    }

    /** Says the run is alive (again, when it was counted as gone and forgotten meanwhile). Autocommit connection. */
    static void alive(Connection c, long epoch) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("""
                INSERT INTO store_runs (epoch, started_at) OVERRIDING SYSTEM VALUE VALUES (?, 0)
                ON CONFLICT (epoch) DO UPDATE SET alive_at = now()""")) {
            st.setLong(1, epoch);
            st.executeUpdate();
        }
    }

    /** Removes the run's row: its leases count as released at once. Autocommit connection. */
    static void end(Connection c, long epoch) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("DELETE FROM store_runs WHERE epoch = ?")) {
            st.setLong(1, epoch);
            st.executeUpdate();
        }
    }
}
