package io.sluice.server;

import io.sluice.store.postgres.PostgresServer;
import java.nio.file.Path;
import java.util.List;

/**
 * The Subscribe contract ({@link SubscribeContractTest}) across two brokers on one PostgreSQL
 * database: every stream on one broker, every publish and admin call (reset, delete, stats) through
 * the other, so what the streams see of them comes through the database and its notifications.
 */
class TwoBrokerSubscribeContractTest extends SubscribeContractTest {

    @Override
    List<TestBroker> startBrokers(Path dir) {
        String schema = PostgresServer.shared().freshSchema();
        TestBroker streams = PostgresSubscribeContractTest.onPostgres(dir.resolve("streams"), schema);
        try {
            return List.of(streams, PostgresSubscribeContractTest.onPostgres(dir.resolve("publishes"), schema));
        } catch (RuntimeException e) {
            streams.server().close();
            throw e;
        }
    }
}
