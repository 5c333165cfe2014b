package io.sluice.store;

import io.sluice.store.sqlite.SqliteStore;
import java.nio.file.Path;
import java.util.List;

/** The one place that chooses and opens a storage backend from the configuration. */
public final class Stores {
    private Stores() {
    }

    /**
     * Opens the store the configuration names: today the embedded SQLite database in {@code dataDir}
     * (created when absent, locked against a second broker). {@code observer} is told of each commit.
     */
    public static Store open(Path dataDir, StoreOptions options, CommitObserver observer) {
        return SqliteStore.open(dataDir, options, observer);
    }

    /** The java.util.logging names the backends' drivers log under (kept at INFO and above unless asked). */
    public static List<String> driverLoggers() {
        return List.of("org.sqlite");
    }
}
