package io.sluice.store.sqlite;

import io.sluice.domain.Attributes;
import io.sluice.domain.SluiceException;
import io.sluice.store.TopicConfig;
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

    /**
     * The topics with their configuration, their newest and oldest retained message (one indexed
     * lookup each) and their oldest remembered dedup id. A topic retention emptied has no newest
     * message: its row says where it ended.
     */
    static ConcurrentHashMap<String, TopicRow> loadTopics(Connection c) throws SQLException {
        var topics = new ConcurrentHashMap<String, TopicRow>();
        try (Statement st = c.createStatement();
             var newest = c.prepareStatement("SELECT seq, pos, bstart, length(payload), attrs, ts FROM messages "
                     + "WHERE topic_id = ? ORDER BY seq DESC LIMIT 1");
             var oldest = c.prepareStatement(
                     "SELECT seq, pos, bstart, ts FROM messages WHERE topic_id = ? ORDER BY seq LIMIT 1");
             ResultSet rs = st.executeQuery("""
                     SELECT id, name, created_at, max_age_ms, max_bytes, max_messages, discard, dedup_window_ms,
                            discarded, last_seq, last_pos, last_bytes
                     FROM topics""")) {
            while (rs.next()) {
                var row = new TopicRow(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(10), rs.getLong(11));
                row.config = new TopicConfig(rs.getLong(4), rs.getLong(5), rs.getLong(6),
                        TopicConfig.Discard.values()[rs.getInt(7)], rs.getLong(8));
                row.discarded = rs.getLong(9);
                row.lastBytes = rs.getLong(12);
                newest.setLong(1, row.id);
                try (ResultSet last = newest.executeQuery()) {
                    if (last.next()) {
                        row.lastSequence = Math.max(row.lastSequence, last.getLong(1));
                        row.lastPosition = last.getLong(2);
                        row.lastBytes = last.getLong(3) + last.getLong(4) + attributeBytes(last.getBytes(5));
                        row.lastTimestamp = last.getLong(6);
                    }
                }
                row.firstPosition = row.lastPosition + 1;
                row.firstBytes = row.lastBytes;
                oldest.setLong(1, row.id);
                try (ResultSet first = oldest.executeQuery()) {
                    if (first.next()) {
                        row.firstSequence = first.getLong(1);
                        row.firstPosition = first.getLong(2);
                        row.firstBytes = first.getLong(3);
                        row.firstTimestamp = first.getLong(4);
                    }
                }
                topics.put(row.name, row);
            }
            Dedup.load(c, topics);
        }
        c.commit();
        return topics;
    }

    /** The bytes a message's stored attributes count against its topic's byte limit. */
    static long attributeBytes(byte[] stored) {
        try {
            return Attributes.size(Attributes.decode(stored == null ? new byte[0] : stored));
        } catch (java.io.IOException e) {
            return stored.length;   // a damaged message counts as stored; reading it reports the damage
        }
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
