package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteOpenMode;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How the SQLite store opens its database: the write connection and its settings, read-only
 * connections, the integrity check that refuses a damaged file, and the state loaded before the
 * writer starts (sequence and clock high-water marks, topics, unfinished purges).
 */
final class Startup {
    private static final System.Logger LOG = System.getLogger(SqliteStore.class.getName());

    private Startup() {
    }

    /** The writer's connection; {@code maxBytes} (0 = none) caps the database at that many bytes, in whole pages. */
    static Connection openWriter(Path file, long maxBytes) throws SQLException {
        var config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        config.setBusyTimeout(5000);
        config.setTempStore(SQLiteConfig.TempStore.MEMORY);
        config.setOpenMode(SQLiteOpenMode.NOMUTEX);
        // Left on, sqlite-jdbc follows every INSERT it runs with a freshly prepared
        // "SELECT last_insert_rowid()" for getGeneratedKeys(): a statement per write on the
        // writer's hot path. The one place that needs a new rowid asks for it itself.
        config.setGetGeneratedKeys(false);
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file, config.toProperties());
        try (Statement st = c.createStatement()) {
            st.execute("PRAGMA wal_autocheckpoint = " + SqliteStore.CHECKPOINT_PAGES);
            if (maxBytes > 0) {
                try (var rs = st.executeQuery("PRAGMA page_size")) {
                    rs.next();
                    st.execute("PRAGMA max_page_count = " + Math.max(1, maxBytes / rs.getInt(1)));
                }
            }
        }
        c.setAutoCommit(false);
        return c;
    }

    static Connection openReadOnly(Path file) {
        var config = new SQLiteConfig();
        config.setReadOnly(true);
        config.setBusyTimeout(5000);
        config.setOpenMode(SQLiteOpenMode.NOMUTEX);
        try {
            return DriverManager.getConnection("jdbc:sqlite:" + file, config.toProperties());
        } catch (SQLException e) {
            throw StorageErrors.map(e, "opening a read connection");
        }
    }

    /** Runs SQLite's quick check; any answer but "ok" refuses the start, naming what is wrong. */
    static void check(Connection c, Path file) throws SQLException {
        long started = System.nanoTime();
        var problems = new ArrayList<String>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA quick_check(20)")) {
            while (rs.next()) {
                String line = rs.getString(1);
                if (!"ok".equalsIgnoreCase(line)) {
                    problems.add(line);
                }
            }
        }
        c.commit();
        if (!problems.isEmpty()) {
            throw new SluiceException.Corrupted(file + " is damaged: " + String.join("; ", problems)
                    + "; Sluice will not serve from it: move it aside or restore it from a backup");
        }
        LOG.log(Level.DEBUG, () -> "integrity check passed in " + (System.nanoTime() - started) / 1_000_000 + " ms");
    }

    static long[] loadState(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("""
                     SELECT max(s.last_seq, coalesce((SELECT max(seq) FROM messages), 0)),
                            max(s.last_ts, coalesce((SELECT ts FROM messages ORDER BY seq DESC LIMIT 1), 0))
                     FROM broker_state s WHERE s.id = 1""")) {
            if (!rs.next()) {
                throw new SluiceException.Corrupted("the broker state row is missing from the database");
            }
            long[] state = {rs.getLong(1), rs.getLong(2)};
            c.commit();
            return state;
        }
    }

    static ConcurrentHashMap<String, TopicRow> loadTopics(Connection c) throws SQLException {
        var topics = new ConcurrentHashMap<String, TopicRow>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("""
                     SELECT t.id, t.name, t.created_at,
                            coalesce((SELECT max(seq) FROM messages m WHERE m.topic_id = t.id), 0),
                            coalesce((SELECT pos FROM messages m WHERE m.topic_id = t.id ORDER BY seq DESC LIMIT 1), 0)
                     FROM topics t""")) {
            while (rs.next()) {
                var row = new TopicRow(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5));
                topics.put(row.name, row);
            }
        }
        c.commit();
        return topics;
    }

    /** Deleted topics whose messages were not all purged when the broker last stopped. */
    static List<TopicRow> loadPurges(Connection c) throws SQLException {
        var purges = new ArrayList<TopicRow>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT topic_id, name, deleted_at FROM purges ORDER BY topic_id")) {
            while (rs.next()) {
                purges.add(new TopicRow(rs.getLong(1), rs.getString(2), rs.getLong(3), 0, 0));
            }
        }
        c.commit();
        return purges;
    }
}
