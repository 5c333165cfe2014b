package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 2 of the PostgreSQL schema: what the extended storage port needs that the first schema
 * lacked. A consumer group's mode and configuration; the delivery counts of an exclusive group's
 * unsettled span (a row only for a message delivered more than once, removed when the cursor passes
 * it); a topic's configuration; the dedup ids of recent publishes; an index on (topic, timestamp).
 */
final class PgSchemaV2 {
    private PgSchemaV2() {
    }

    static final List<String> STATEMENTS = List.of(
            """
            ALTER TABLE consumer_groups
                ADD COLUMN mode           text     NOT NULL DEFAULT 'EXCLUSIVE',
                ADD COLUMN ack_wait_ms    bigint   NOT NULL DEFAULT 0,
                ADD COLUMN max_deliveries bigint   NOT NULL DEFAULT 0,
                ADD COLUMN dlq_topic      text     NOT NULL DEFAULT '',
                ADD COLUMN max_in_flight  bigint   NOT NULL DEFAULT 0,
                ADD COLUMN backoff_ms     bigint[] NOT NULL DEFAULT '{}',
                ADD COLUMN redelivered    bigint   NOT NULL DEFAULT 0""",
            // deliveries: how often the message was delivered to the group (2 or more: a first
            // delivery is recorded by the group's delivered_seq alone).
            """
            CREATE TABLE group_deliveries (
                topic_id   bigint  NOT NULL,
                grp        text    NOT NULL,
                seq        bigint  NOT NULL,
                deliveries integer NOT NULL,
                PRIMARY KEY (topic_id, grp, seq)
            )""",
            """
            ALTER TABLE topics
                ADD COLUMN max_age_ms      bigint NOT NULL DEFAULT 0,
                ADD COLUMN max_bytes       bigint NOT NULL DEFAULT 0,
                ADD COLUMN max_messages    bigint NOT NULL DEFAULT 0,
                ADD COLUMN discard         text   NOT NULL DEFAULT 'OLD',
                ADD COLUMN dedup_window_ms bigint NOT NULL DEFAULT 0""",
            // ts: the original's timestamp; the id is forgotten once ts + the topic's window has passed.
            """
            CREATE TABLE dedup_ids (
                topic_id bigint NOT NULL,
                dedup_id text   NOT NULL,
                seq      bigint NOT NULL,
                mid      bytea  NOT NULL,
                ts       bigint NOT NULL,
                PRIMARY KEY (topic_id, dedup_id)
            )""",
            "CREATE INDEX dedup_ids_topic_ts ON dedup_ids (topic_id, ts)",
            "CREATE INDEX messages_topic_ts ON messages (topic_id, ts, seq)");
}
