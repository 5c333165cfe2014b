package io.sluice.server;

import io.sluice.store.DatabaseTarget;
import io.sluice.store.postgres.PostgresServer;
import java.nio.file.Path;
import java.util.List;

/**
 * The Subscribe contract ({@link SubscribeContractTest}) across two brokers on one PostgreSQL
 * database: every stream on one broker, every publish and admin call (reset, delete, stats) through
 * the other, so what the streams see of them comes through the database and its notifications. (On
 * one broker on PostgreSQL it runs in {@link OnPostgresTest}.)
 */
class TwoBrokerSubscribeContractTest extends SubscribeContractTest {

    @Override
    List<TestBroker> startBrokers(Path dir) {
        String schema = PostgresServer.shared().freshSchema();
        TestBroker streams = onPostgres(dir.resolve("streams"), schema);
        try {
            return List.of(streams, onPostgres(dir.resolve("publishes"), schema));
        } catch (RuntimeException e) {
            streams.server().close();
            throw e;
        }
    }

    /** A broker on {@code schema} of the JVM's shared test database, its (unused) data directory in {@code dir}. */
    private static TestBroker onPostgres(Path dir, String schema) {
        var url = new DatabaseTarget(PostgresServer.shared().url(schema), PostgresServer.PASSWORD);
        return TestBroker.start(dir, c -> c.withDatabase(url));
    }
}
