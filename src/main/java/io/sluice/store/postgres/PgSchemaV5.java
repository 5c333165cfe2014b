package io.sluice.store.postgres;

import java.util.List;

/**
 * Migration 5 of the PostgreSQL schema: commit marks. Each store run has one row in {@code
 * commit_marks} that every write transaction of its writer sets to the transaction's number, in the
 * transaction itself; after a COMMIT whose answer never arrived, the row says whether it took effect
 * ({@link PgCommitMarks}). The rows of runs gone for an hour are removed.
 */
final class PgSchemaV5 {
    private PgSchemaV5() {
    }

    static final List<String> STATEMENTS = List.of(
            // txn: the run's last committed write transaction; at: the server's clock when it was set.
            """
            CREATE TABLE commit_marks (
                epoch bigint      PRIMARY KEY,
                txn   bigint      NOT NULL,
                at    timestamptz NOT NULL DEFAULT now()
            )""");
}
