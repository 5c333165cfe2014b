package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import org.sqlite.SQLiteException;
import java.sql.SQLException;

/** Turns SQLite's failures into the broker's, with a message that names the cause, never the SQL. */
final class StorageErrors {
    static final int SQLITE_BUSY = 5;
    static final int SQLITE_READONLY = 8;
    static final int SQLITE_IOERR = 10;
    static final int SQLITE_CORRUPT = 11;
    static final int SQLITE_FULL = 13;
    static final int SQLITE_CANTOPEN = 14;
    static final int SQLITE_NOTADB = 26;

    private StorageErrors() {
    }

    static int primaryCode(SQLException e) {
        return e instanceof SQLiteException s ? s.getResultCode().code & 0xFF : e.getErrorCode() & 0xFF;
    }

    /** The broker failure for a storage error met while {@code doing} something (e.g. "committing 12 writes"). */
    static SluiceException map(SQLException e, String doing) {
        return switch (primaryCode(e)) {
            case SQLITE_FULL -> new SluiceException.DiskFull(
                    "the disk holding the data directory is full (" + doing + "); free space and retry", e);
            case SQLITE_CORRUPT, SQLITE_NOTADB -> new SluiceException.Corrupted(
                    "the database is damaged (" + doing + "): " + describe(e));
            case SQLITE_IOERR -> new SluiceException.StorageFailure(
                    "an I/O error hit the data directory (" + doing + "): " + describe(e), e);
            case SQLITE_READONLY, SQLITE_CANTOPEN -> new SluiceException.StorageFailure(
                    "the data directory cannot be written (" + doing + "): " + describe(e), e);
            default -> new SluiceException.StorageFailure("storage failed (" + doing + "): " + describe(e), e);
        };
    }

    /** SQLite's own words for the failure, without the statement. */
    static String describe(SQLException e) {
        String m = e.getMessage();
        return m == null ? "code " + e.getErrorCode() : m.replaceAll("\\s+", " ").trim();
    }
}
