package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 6 of the PostgreSQL schema: claims of exclusive groups and cursor resets seen by other
 * brokers. {@code claim_epoch} is the epoch of the stream that last claimed the group (0: never
 * claimed); every cursor write made under a claim checks it, so a stale owner on another broker cannot
 * move the cursor. {@code reset_epoch} changes with every cursor reset, so other brokers' polls find
 * resets they were not notified of. Both come from one sequence, {@code sluice_epochs}, taken while
 * the group's row is locked, so a later claim of a group always has a larger epoch, also after the
 * group was deleted and created again.
 */
final class PgSchemaV6 {
    private PgSchemaV6() {
    }

    static final List<String> STATEMENTS = List.of(
            "CREATE SEQUENCE sluice_epochs",
            """
            ALTER TABLE consumer_groups
                ADD COLUMN claim_epoch bigint NOT NULL DEFAULT 0,
                ADD COLUMN reset_epoch bigint NOT NULL DEFAULT 0""");
}
