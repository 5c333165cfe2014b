package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Versioned, forward-only schema migrations. Each runs once, in its own transaction, recorded in
 * {@code schema_migrations}. Never edit a released migration: add the next one.
 */
final class Migrations {
    private static final System.Logger LOG = System.getLogger(Migrations.class.getName());

    record Migration(int version, String description, List<String> statements) {
    }

    static final List<Migration> ALL = List.of(
            new Migration(1, "topics, messages, consumer groups, broker state", List.of(
                    """
                    CREATE TABLE topics (
                        id         INTEGER PRIMARY KEY,
                        name       TEXT    NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL
                    )""",
                    // seq is the rowid; mid is the 16-byte UUIDv7; crc is CRC32C(payload || attrs).
                    """
                    CREATE TABLE messages (
                        seq      INTEGER PRIMARY KEY,
                        topic_id INTEGER NOT NULL,
                        mid      BLOB    NOT NULL,
                        ts       INTEGER NOT NULL,
                        payload  BLOB    NOT NULL,
                        attrs    BLOB    NOT NULL,
                        crc      INTEGER NOT NULL
                    )""",
                    // cursor_seq: last acknowledged; delivered_seq: highest ever delivered (for delivery counts).
                    // An index on topic_id holds the rowid too, so it orders by (topic_id, seq).
                    "CREATE INDEX messages_by_topic ON messages (topic_id)",
                    """
                    CREATE TABLE consumer_groups (
                        topic_id    INTEGER NOT NULL,
                        name        TEXT    NOT NULL,
                        cursor_seq  INTEGER NOT NULL,
                        delivered_seq INTEGER NOT NULL DEFAULT 0,
                        created_at  INTEGER NOT NULL,
                        last_ack_at INTEGER NOT NULL,
                        PRIMARY KEY (topic_id, name)
                    ) WITHOUT ROWID""",
                    """
                    CREATE TABLE broker_state (
                        id       INTEGER PRIMARY KEY CHECK (id = 1),
                        last_seq INTEGER NOT NULL,
                        last_ts  INTEGER NOT NULL
                    )""",
                    "INSERT INTO broker_state (id, last_seq, last_ts) VALUES (1, 0, 0)")),
            // A deleted topic's messages are removed a chunk per writer transaction after its row is
            // gone; its id stays here until the last of them is, so no new topic is given that id.
            new Migration(2, "deleted topics whose messages are still being purged", List.of(
                    """
                    CREATE TABLE purges (
                        topic_id   INTEGER PRIMARY KEY,
                        name       TEXT    NOT NULL,
                        deleted_at INTEGER NOT NULL
                    )""")),
            // pos: the message's place in its topic (1, 2, 3, ...), so counts (a topic's messages, a
            // group's pending ones) are differences of positions found through the index, not scans.
            new Migration(3, "each message's position in its topic", List.of(
                    "ALTER TABLE messages ADD COLUMN pos INTEGER NOT NULL DEFAULT 0",
                    """
                    UPDATE messages SET pos = numbered.pos
                    FROM (SELECT seq, row_number() OVER (PARTITION BY topic_id ORDER BY seq) AS pos FROM messages)
                         AS numbered
                    WHERE messages.seq = numbered.seq""")),
            // Retention and dedup. A topic's configuration lives in its row; last_seq, last_pos and
            // last_bytes keep where a topic ended when retention removed all of its messages (else
            // its newest message says). bstart: the bytes appended to the topic before the message
            // (payload plus attributes), so a topic's bytes are a difference, never a sum over rows.
            // dedup_ids: the dedup ids of recent messages, removed once past the topic's window.
            new Migration(4, "topic configuration, retention, dedup ids", List.of(
                    "ALTER TABLE topics ADD COLUMN max_age_ms INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN max_bytes INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN max_messages INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN discard INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN dedup_window_ms INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN discarded INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN last_pos INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE topics ADD COLUMN last_bytes INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE messages ADD COLUMN bstart INTEGER NOT NULL DEFAULT 0",
                    // Existing messages count their attributes as stored (a byte or two more each).
                    """
                    UPDATE messages SET bstart = summed.bstart
                    FROM (SELECT seq, sum(length(payload) + length(attrs)) OVER (PARTITION BY topic_id ORDER BY seq
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS bstart FROM messages) AS summed
                    WHERE messages.seq = summed.seq AND summed.bstart IS NOT NULL""",
                    """
                    CREATE TABLE dedup_ids (
                        topic_id INTEGER NOT NULL,
                        dedup_id TEXT    NOT NULL,
                        seq      INTEGER NOT NULL,
                        mid      BLOB    NOT NULL,
                        ts       INTEGER NOT NULL,
                        PRIMARY KEY (topic_id, dedup_id)
                    ) WITHOUT ROWID""",
                    "CREATE INDEX dedup_ids_by_age ON dedup_ids (topic_id, ts)")),
            // Version 4 is another change's (retention and deduplication); numbers are never reused.
            // A group's mode (0 exclusive, 1 shared) and configuration; its dead-letter and redelivery
            // counts. group_deliveries holds a row per delivered, unsettled message that needs one (every
            // such message of a shared group; in an exclusive group only those delivered more than once
            // or terminated): its delivery count, and in a shared group its lease holder, the store run
            // (epoch) that granted the lease, and when it is due (lease expiry, or end of backoff).
            new Migration(5, "shared consumer groups, group configuration, delivery counts, dead letters", List.of(
                    "ALTER TABLE consumer_groups ADD COLUMN mode INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE consumer_groups ADD COLUMN ack_wait_ms INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE consumer_groups ADD COLUMN max_deliveries INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE consumer_groups ADD COLUMN dead_letter_topic TEXT NOT NULL DEFAULT ''",
                    "ALTER TABLE consumer_groups ADD COLUMN max_in_flight INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE consumer_groups ADD COLUMN backoff_ms TEXT NOT NULL DEFAULT ''",
                    "ALTER TABLE consumer_groups ADD COLUMN dead_lettered INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE consumer_groups ADD COLUMN redelivered INTEGER NOT NULL DEFAULT 0",
                    """
                    CREATE TABLE group_deliveries (
                        topic_id   INTEGER NOT NULL,
                        grp        TEXT    NOT NULL,
                        seq        INTEGER NOT NULL,
                        deliveries INTEGER NOT NULL,
                        holder     TEXT,
                        epoch      INTEGER NOT NULL DEFAULT 0,
                        due_at     INTEGER NOT NULL DEFAULT 0,
                        dead       INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (topic_id, grp, seq)
                    ) WITHOUT ROWID""")),
            // A shared group's unsettled messages as one value in its row (UnsettledSpan: runs of
            // sequences after cursor_seq) and their number; group_deliveries then keeps rows only for
            // messages delivered more than once. NULL: written by version 5, where every unsettled
            // message of a shared group has a row (read as such until the group is next written).
            new Migration(6, "shared groups' unsettled span in the group's row", List.of(
                    "ALTER TABLE consumer_groups ADD COLUMN unsettled BLOB",
                    "ALTER TABLE consumer_groups ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0",
                    """
                    UPDATE consumer_groups SET in_flight = (SELECT count(*) FROM group_deliveries d
                        WHERE d.topic_id = consumer_groups.topic_id AND d.grp = consumer_groups.name AND d.dead = 0)
                    WHERE mode = 1""")));

    private Migrations() {
    }

    static int latest() {
        return ALL.getLast().version();
    }

    /** Brings the schema to the latest version; refuses a database written by a newer Sluice. */
    static void apply(Connection c, String where) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("CREATE TABLE IF NOT EXISTS schema_migrations ("
                    + "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)");
            c.commit();
            int current;
            try (var rs = st.executeQuery("SELECT coalesce(max(version), 0) FROM schema_migrations")) {
                rs.next();
                current = rs.getInt(1);
            }
            if (current > latest()) {
                throw new SluiceException.StorageFailure("the database in " + where + " has schema version "
                        + current + ", newer than this build knows (" + latest()
                        + "): run a newer Sluice on it", null);
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
                c.commit();
                LOG.log(Level.INFO, "schema migrated to version " + m.version() + " (" + m.description() + ")");
            }
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        }
    }
}
