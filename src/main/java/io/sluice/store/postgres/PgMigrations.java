package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Versioned, forward-only schema migrations of the PostgreSQL backend, recorded in {@code
 * schema_migrations}. Brokers starting at once on one database migrate it once: the pending
 * migrations run in one transaction that first locks {@code schema_migrations} (a table lock,
 * not an advisory lock), so the others wait and then find nothing left to do. Never edit a
 * released migration: add the next one.
 */
final class PgMigrations {
    private static final System.Logger LOG = System.getLogger(PgMigrations.class.getName());
    /** The oldest server this backend runs on. */
    static final int MIN_SERVER_VERSION = 140000;

    record Migration(int version, String description, List<String> statements) {
    }

    static final List<Migration> ALL = List.of(
            new Migration(1, "counter, topics, messages, consumer groups", List.of(
                    // The one row every write transaction updates first: it hands out the global
                    // sequence and the clock's high-water mark, and its row lock orders commits.
                    """
                    CREATE TABLE sluice_counter (
                        id       integer PRIMARY KEY CHECK (id = 1),
                        last_seq bigint  NOT NULL,
                        last_ts  bigint  NOT NULL
                    )""",
                    "INSERT INTO sluice_counter (id, last_seq, last_ts) VALUES (1, 0, 0)",
                    // last_seq, last_pos: the topic's last sequence and position (its count of messages ever).
                    """
                    CREATE TABLE topics (
                        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        name       text   NOT NULL UNIQUE,
                        created_at bigint NOT NULL,
                        last_seq   bigint NOT NULL DEFAULT 0,
                        last_pos   bigint NOT NULL DEFAULT 0
                    )""",
                    // mid: the 16-byte UUIDv7; crc: CRC32C(payload || attrs); pos: place in the topic (1, 2, ...).
                    """
                    CREATE TABLE messages (
                        topic_id bigint NOT NULL,
                        seq      bigint NOT NULL,
                        pos      bigint NOT NULL,
                        mid      bytea  NOT NULL,
                        ts       bigint NOT NULL,
                        payload  bytea  NOT NULL,
                        attrs    bytea  NOT NULL,
                        crc      bigint NOT NULL,
                        PRIMARY KEY (topic_id, seq)
                    )""",
                    """
                    CREATE TABLE consumer_groups (
                        topic_id      bigint NOT NULL,
                        name          text   NOT NULL,
                        cursor_seq    bigint NOT NULL,
                        delivered_seq bigint NOT NULL DEFAULT 0,
                        created_at    bigint NOT NULL,
                        last_ack_at   bigint NOT NULL,
                        PRIMARY KEY (topic_id, name)
                    )""")),
            new Migration(2, "group modes and configuration, delivery counts, topic configuration, dedup ids, "
                    + "time index", PgSchemaV2.STATEMENTS),
            new Migration(3, "shared groups' leases, dead letters, store runs", PgSchemaV3.STATEMENTS),
            new Migration(4, "retention counters, bytes before each message, deferred purges", PgSchemaV4.STATEMENTS),
            new Migration(5, "commit marks", PgSchemaV5.STATEMENTS),
            new Migration(6, "claims of exclusive groups, cursor reset epochs", PgSchemaV6.STATEMENTS),
            new Migration(7, "no time index: times are found by a binary search over sequences",
                    PgSchemaV7.STATEMENTS),
            new Migration(8, "commit marks keep their transaction's first sequence and timestamp",
                    PgSchemaV8.STATEMENTS));

    private PgMigrations() {
    }

    /** The names of the tables and sequences the migrations create, the ledger included. */
    private static final List<String> OWN_NAMES = List.of("schema_migrations", "sluice_counter", "topics",
            "messages", "consumer_groups", "group_deliveries", "dedup_ids", "store_runs", "purges", "commit_marks",
            "sluice_epochs");

    static int latest() {
        return ALL.getLast().version();
    }

    /** Refuses a server older than PostgreSQL 14, naming it. */
    static void requireServerVersion(Connection c, String where) throws SQLException {
        try (Statement st = c.createStatement(); var rs = st.executeQuery("SHOW server_version_num")) {
            rs.next();
            int version = Integer.parseInt(rs.getString(1).trim());
            c.commit();
            if (version < MIN_SERVER_VERSION) {
                throw new SluiceException.StorageFailure("the database server at " + where + " runs PostgreSQL "
                        + version / 10000 + "; Sluice needs 14 or newer", null);
            }
        }
    }

    /** Brings the schema to the latest version; refuses a database written by a newer Sluice. */
    static void apply(Connection c, String where) throws SQLException {
        try (Statement st = c.createStatement()) {
            refuseForeignSchema(c, st, where);
            createLedger(c, st);
            st.execute("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE");
            int current;
            try (var rs = st.executeQuery("SELECT coalesce(max(version), 0) FROM schema_migrations")) {
                rs.next();
                current = rs.getInt(1);
            }
            if (current > latest()) {
                throw new SluiceException.StorageFailure("the database at " + where + " has schema version "
                        + current + ", newer than this build knows (" + latest() + "): run a newer Sluice on it", null);
            }
            for (Migration m : ALL) {
                if (m.version() <= current) {
                    continue;
                }
                for (String sql : m.statements()) {
                    st.executeUpdate(sql);
                }
                try (var insert = c.prepareStatement(
                        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)")) {
                    insert.setInt(1, m.version());
                    insert.setString(2, m.description());
                    insert.setLong(3, System.currentTimeMillis());
                    insert.executeUpdate();
                }
                LOG.log(Level.INFO, "schema migrated to version " + m.version() + " (" + m.description() + ")");
            }
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        }
    }

    /**
     * Refuses, before creating anything, a schema that does not exist or that holds a table or
     * sequence of one of Sluice's names without Sluice's ledger: some other application's tables,
     * which the first migration would fail on after leaving its ledger behind.
     */
    private static void refuseForeignSchema(Connection c, Statement st, String where) throws SQLException {
        String schema;
        String searchPath;
        try (var rs = st.executeQuery("SELECT current_schema(), current_setting('search_path')")) {
            rs.next();
            schema = rs.getString(1);
            searchPath = rs.getString(2);
        }
        if (schema == null) {
            throw new SluiceException.StorageFailure("the database at " + where + " has no schema to create "
                    + "Sluice's tables in (search_path " + searchPath + "): create the schema, or name an "
                    + "existing one with currentSchema in --database-url", null);
        }
        var taken = new ArrayList<String>();
        try (var q = c.prepareStatement("SELECT c.relname FROM pg_class c "
                + "JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE n.nspname = ? AND c.relname = ANY (?) ORDER BY c.relname")) {
            q.setString(1, schema);
            q.setArray(2, c.createArrayOf("text", OWN_NAMES.toArray()));
            try (var rs = q.executeQuery()) {
                while (rs.next()) {
                    taken.add(rs.getString(1));
                }
            }
        }
        c.commit();
        if (!taken.isEmpty() && !taken.contains("schema_migrations")) {
            throw new SluiceException.StorageFailure("the schema " + schema + " of the database at " + where
                    + " already holds " + String.join(", ", taken)
                    + ", not made by Sluice (it has no schema_migrations): give Sluice a schema of its own, "
                    + "e.g. ?currentSchema=sluice in --database-url", null);
        }
    }

    /** Creates the ledger when absent; a broker racing another to create it finds it made. */
    private static void createLedger(Connection c, Statement st) throws SQLException {
        String ddl = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                + "version integer PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL)";
        try {
            st.execute(ddl);
            c.commit();
        } catch (SQLException e) {
            // Two brokers creating it at the same moment: one of them gets a unique violation on
            // the catalog; by then the table exists.
            c.rollback();
            if (!"23505".equals(e.getSQLState()) && !"42P07".equals(e.getSQLState())) {
                throw e;
            }
        }
    }
}
