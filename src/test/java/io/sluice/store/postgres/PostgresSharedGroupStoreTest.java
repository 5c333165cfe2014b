package io.sluice.store.postgres;

import io.sluice.store.SharedGroupStoreTest;
import io.sluice.store.Store;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The port's promises for consumer groups' delivery state on PostgreSQL: a fresh schema per location. */
class PostgresSharedGroupStoreTest extends SharedGroupStoreTest {
    private static final Map<Path, String> SCHEMAS = new ConcurrentHashMap<>();

    @Override
    protected Store openStore(Path location) {
        PostgresServer server = PostgresServer.shared();
        String schema = SCHEMAS.computeIfAbsent(location, l -> server.freshSchema());
        return server.openStore(schema, StoreOptions.defaults());
    }
}
