package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 4 of the PostgreSQL schema: retention and deferred purges. A topic keeps the bytes ever
 * appended to it and how many messages retention removed; each message the bytes appended to its topic
 * before it, so a topic's retained bytes are one subtraction; a deleted topic's messages are listed in
 * {@code purges} until they are removed, a chunk per transaction. Messages stored before this version
 * count their stored payload and attribute encoding.
 */
final class PgSchemaV4 {
    private PgSchemaV4() {
    }

    static final List<String> STATEMENTS = List.of(
            """
            ALTER TABLE topics
                ADD COLUMN last_bytes bigint NOT NULL DEFAULT 0,
                ADD COLUMN discarded  bigint NOT NULL DEFAULT 0""",
            "ALTER TABLE messages ADD COLUMN bstart bigint NOT NULL DEFAULT 0",
            """
            UPDATE messages m SET bstart = s.before
            FROM (SELECT topic_id, seq, sum(octet_length(payload) + octet_length(attrs))
                      OVER (PARTITION BY topic_id ORDER BY seq) - octet_length(payload) - octet_length(attrs) AS before
                  FROM messages) s
            WHERE m.topic_id = s.topic_id AND m.seq = s.seq""",
            """
            UPDATE topics t SET last_bytes = coalesce((SELECT sum(octet_length(payload) + octet_length(attrs))
                                                       FROM messages m WHERE m.topic_id = t.id), 0)""",
            """
            CREATE TABLE purges (
                topic_id   bigint PRIMARY KEY,
                name       text   NOT NULL,
                deleted_at bigint NOT NULL
            )""");
}
