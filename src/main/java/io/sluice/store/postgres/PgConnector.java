package io.sluice.store.postgres;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * Opens connections to the configured database. Thread-safe: the writer and each read thread
 * open their own, and open them again after one is lost.
 */
final class PgConnector {
    private final DatabaseUrl url;

    PgConnector(DatabaseUrl url) {
        this.url = url;
    }

    /** A new connection; {@code autoCommit} false for the writer, true for reads. */
    Connection open(boolean autoCommit) throws SQLException {
        Connection c = DriverManager.getConnection(url.jdbcUrl(), (Properties) url.properties().clone());
        try {
            c.setAutoCommit(autoCommit);
            return c;
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    /** Where it connects, without any password. */
    String where() {
        return url.display();
    }

    static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // a lost connection may refuse to close; the server ends its session on its own
        }
    }
}
