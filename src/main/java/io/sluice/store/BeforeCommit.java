package io.sluice.store;

import java.sql.SQLException;

/**
 * A fault-injection seam, for tests only: the writer calls it on its own thread just before each
 * {@code commit()}, with the number of writes in the transaction. Throwing an {@link SQLException}
 * (an {@code org.sqlite.SQLiteException} carrying a result code such as {@code SQLITE_IOERR_FSYNC})
 * makes that commit fail exactly where a failed write or fsync would: the writer rolls back and
 * fails every caller of the transaction. Blocking in it holds the writer, so writes queued meanwhile
 * form the next batch.
 *
 * <p>Production never sets one: {@link SqliteStore.Options#beforeCommit()} is null and the writer
 * skips the call, so the seam costs one null check per commit.
 */
@FunctionalInterface
public interface BeforeCommit {
    void beforeCommit(int writes) throws SQLException;
}
