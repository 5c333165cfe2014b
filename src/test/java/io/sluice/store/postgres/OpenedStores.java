package io.sluice.store.postgres;

import io.sluice.store.StoreOptions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The stores a test opens on a PostgreSQL server ({@link PostgresServer#openStore}), closed
 * after each test. Register with {@code @RegisterExtension final OpenedStores stores = new OpenedStores();}.
 */
final class OpenedStores implements AfterEachCallback {
    private final List<PostgresStore> opened = new ArrayList<>();

    /** A store on {@code schema} of {@code server}, with default options. */
    PostgresStore open(PostgresServer server, String schema) {
        return open(server, schema, StoreOptions.defaults());
    }

    /** A store on {@code schema} of {@code server} with {@code options}. */
    PostgresStore open(PostgresServer server, String schema, StoreOptions options) {
        PostgresStore s = server.openStore(schema, options);
        opened.add(s);
        return s;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        opened.forEach(PostgresStore::close);
        opened.clear();
    }
}
