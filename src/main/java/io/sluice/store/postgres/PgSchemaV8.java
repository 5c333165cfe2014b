package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 8 of the PostgreSQL schema: a commit mark also keeps the first sequence and the timestamp
 * its transaction got ({@code base}, {@code ts}), so a one-statement append ({@link PgFastAppend})
 * whose answer never arrived, but which took effect, is answered with its sequences and ids.
 */
final class PgSchemaV8 {
    private PgSchemaV8() {
    }

    static final List<String> STATEMENTS = List.of("""
            ALTER TABLE commit_marks
                ADD COLUMN base bigint NOT NULL DEFAULT 0,
                ADD COLUMN ts   bigint NOT NULL DEFAULT 0""");
}
