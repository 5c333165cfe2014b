package io.sluice.store.postgres;

import io.sluice.server.TestBroker;
import io.sluice.store.DatabaseTarget;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs a test written for a {@link TestBroker} against a broker on PostgreSQL: before each test (and
 * before the test's own {@code @BeforeEach}, which starts its broker) every broker started is given a
 * fresh schema of the shared test server ({@link PostgresServer#shared()}); after it, brokers keep
 * their data in SQLite again. Extend a server test and add {@code @ExtendWith(OnPostgres.class)}.
 */
public class OnPostgres implements BeforeEachCallback, AfterEachCallback {
    private final boolean paired;

    public OnPostgres() {
        this(false);
    }

    OnPostgres(boolean paired) {
        this.paired = paired;
    }

    /** Like {@link OnPostgres}, each test broker being two brokers on one schema, its channels spread over both. */
    public static final class TwoBrokers extends OnPostgres {
        public TwoBrokers() {
            super(true);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        PostgresServer server = PostgresServer.shared();
        var target = new DatabaseTarget(server.url(server.freshSchema()), PostgresServer.PASSWORD);
        TestBroker.useStorage(c -> c.withDatabase(target), paired);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        TestBroker.useStorage(UnaryOperator.identity());
    }
}
