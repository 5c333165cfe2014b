package io.sluice.store.postgres;

import io.sluice.store.Store;
import io.sluice.store.StoreContract;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The PostgreSQL backend against the storage port's contract: the JVM's shared test server, a
 * fresh schema for each location a test opens (opening the same location again finds the same schema).
 */
class PostgresStoreContractTest extends StoreContract {
    private static final Map<Path, String> SCHEMAS = new ConcurrentHashMap<>();

    @Override
    protected Store openStore(Path location, StoreOptions options) {
        PostgresServer server = PostgresServer.shared();
        String schema = SCHEMAS.computeIfAbsent(location, l -> server.freshSchema());
        return server.openStore(schema, options);
    }
}
