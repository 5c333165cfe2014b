package io.sluice.server;

import io.sluice.store.DatabaseTarget;
import io.sluice.store.postgres.PostgresServer;
import java.nio.file.Path;
import java.util.List;

/** The Subscribe contract ({@link SubscribeContractTest}) against one broker on PostgreSQL. */
class PostgresSubscribeContractTest extends SubscribeContractTest {

    /** A broker on {@code schema} of the JVM's shared test database, its (unused) data directory in {@code dir}. */
    static TestBroker onPostgres(Path dir, String schema) {
        var url = new DatabaseTarget(PostgresServer.shared().url(schema), PostgresServer.PASSWORD);
        return TestBroker.start(dir, c -> c.withDatabase(url));
    }

    @Override
    List<TestBroker> startBrokers(Path dir) {
        return List.of(onPostgres(dir.resolve("one"), PostgresServer.shared().freshSchema()));
    }
}
