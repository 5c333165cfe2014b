package io.sluice.store;

import io.sluice.store.postgres.DatabaseUrl;
import io.sluice.store.postgres.PostgresStore;
import io.sluice.store.sqlite.SqliteStore;
import java.nio.file.Path;
import java.util.List;

/** The one place that chooses and opens a storage backend from the configuration. */
public final class Stores {
    private Stores() {
    }

    /**
     * Opens the store the configuration names: the PostgreSQL database {@code database} names when
     * it is not null (shared with any other broker pointed at it), else the embedded SQLite database
     * in {@code dataDir} (created when absent, locked against a second broker). {@code observer} is
     * told of each commit.
     */
    public static Store open(Path dataDir, DatabaseTarget database, StoreOptions options, CommitObserver observer) {
        if (database != null) {
            return PostgresStore.open(parse(database), options, observer);
        }
        return SqliteStore.open(dataDir, options, observer);
    }

    /**
     * Checks that a backend speaks {@code database}'s URL (a {@code postgresql://} or {@code
     * jdbc:postgresql://} URL) and answers it without any password, for logs and banners. Throws
     * IllegalArgumentException naming the problem.
     */
    public static String describe(DatabaseTarget database) {
        return parse(database).display();
    }

    private static DatabaseUrl parse(DatabaseTarget database) {
        return DatabaseUrl.parse(database.url(), database.password(), System.getenv("PGPASSWORD"));
    }

    /** Opens the embedded SQLite database in {@code dataDir}. */
    public static Store open(Path dataDir, StoreOptions options, CommitObserver observer) {
        return open(dataDir, null, options, observer);
    }

    /** The java.util.logging names the backends' drivers log under (kept at INFO and above unless asked). */
    public static List<String> driverLoggers() {
        return List.of("org.sqlite", "org.postgresql");
    }
}
