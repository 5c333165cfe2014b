package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 3 of the PostgreSQL schema: shared groups and dead letters. A delivery row now also
 * holds a shared group's lease (its holder, the store run that granted it, when it expires or may
 * be leased again) and whether the message was settled without an ack (dead-lettered or
 * terminated); a group counts what it dead-lettered; each running store has a row in {@code
 * store_runs} that it keeps alive, so a lease granted by a store that is gone counts as released.
 */
final class PgSchemaV3 {
    private PgSchemaV3() {
    }

    static final List<String> STATEMENTS = List.of(
            """
            ALTER TABLE group_deliveries
                ADD COLUMN holder text,
                ADD COLUMN epoch  bigint  NOT NULL DEFAULT 0,
                ADD COLUMN due_at bigint  NOT NULL DEFAULT 0,
                ADD COLUMN dead   boolean NOT NULL DEFAULT false""",
            "ALTER TABLE consumer_groups ADD COLUMN dead_lettered bigint NOT NULL DEFAULT 0",
            // alive_at: the server's clock, so brokers' clocks never decide whether a run is gone.
            """
            CREATE TABLE store_runs (
                epoch      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                started_at bigint      NOT NULL,
                alive_at   timestamptz NOT NULL DEFAULT now()
            )""");
}
