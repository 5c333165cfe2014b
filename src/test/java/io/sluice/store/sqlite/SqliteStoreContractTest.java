package io.sluice.store.sqlite;

import io.sluice.store.Store;
import io.sluice.store.StoreContract;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;

/** The SQLite backend against the storage port's contract: a database file in a temporary directory. */
class SqliteStoreContractTest extends StoreContract {
    @Override
    protected Store openStore(Path location, StoreOptions options) {
        return SqliteStore.open(location, options);
    }
}
