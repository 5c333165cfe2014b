package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 7 of the PostgreSQL schema: the index on {@code messages (topic_id, ts, seq)} is dropped.
 * Finding a time is a binary search over the primary key instead ({@link PgTimeSeek}), since a
 * topic's timestamps never decrease as its sequences grow; every insert then maintains one index
 * instead of two.
 */
final class PgSchemaV7 {
    private PgSchemaV7() {
    }

    static final List<String> STATEMENTS = List.of("DROP INDEX IF EXISTS messages_topic_ts");
}
