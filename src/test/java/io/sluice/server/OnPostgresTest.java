package io.sluice.server;

import io.sluice.store.postgres.OnPostgres;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The broker's own gRPC contract tests, run again against a broker whose store is PostgreSQL (a fresh
 * schema of a real server per test): what a client sees must not depend on the backend.
 */
@ExtendWith(OnPostgres.class)
class OnPostgresTest {
    @Nested
    class Publish extends PublishContractTest {
    }

    @Nested
    class PublishGuarantees extends PublishGuaranteesTest {
    }

    @Nested
    class PublishStream extends PublishStreamTest {
    }

    @Nested
    class Subscribe extends SubscribeContractTest {
    }

    @Nested
    class SharedGroups extends SharedGroupTest {
    }

    @Nested
    class AckSync extends AckSyncTest {
    }

    @Nested
    class Retention extends RetentionTest {
    }

    @Nested
    class ReplayByTime extends ReplayByTimeTest {
    }

    @Nested
    class StreamLifecycle extends StreamLifecycleTest {
    }

    @Nested
    class BadInput extends BadInputTest {
        @Override
        @org.junit.jupiter.api.Test
        @org.junit.jupiter.api.Disabled("a limit of the transport, the same over every store: run on SQLite, where "
                + "the hundreds of answers it needs come fast enough")
        void largeAnswersNobodyReadsAreBoundedAndTheRestIsServed() {
        }

        @Override
        @org.junit.jupiter.api.Test
        @org.junit.jupiter.api.Disabled("a limit of the transport, the same over every store: run on SQLite")
        void streamsPastTheConnectionsLimitAreRefusedAndAnsweredOnesAreResetWithoutTheClientsHelp() {
        }

        @Override
        @org.junit.jupiter.api.Test
        @org.junit.jupiter.api.Disabled("the health service is the same over every store: run on SQLite")
        void aHealthCheckNamingAHugeServiceIsRefusedRatherThanEchoedIntoAHugeHeader() {
        }
    }

    @Nested
    class SubscribeFuzz extends SubscribeFuzzTest {
    }
}
