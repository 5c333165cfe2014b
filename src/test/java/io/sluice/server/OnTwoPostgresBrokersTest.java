package io.sluice.server;

import io.sluice.store.postgres.OnPostgres;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The publish-guarantee (dedup, expected sequence), shared-group and retention contract tests run
 * again against two brokers on one PostgreSQL schema (fresh per test), each test's channels going to
 * one broker and the other in turn: what a client sees must not depend on which broker it reached.
 * The Subscribe contract runs across two brokers in {@link TwoBrokerSubscribeContractTest}, with every
 * stream on one and every call through the other.
 */
@ExtendWith(OnPostgres.TwoBrokers.class)
class OnTwoPostgresBrokersTest {
    @Nested
    class PublishGuarantees extends PublishGuaranteesTest {
    }

    @Nested
    class SharedGroups extends SharedGroupTest {
    }

    @Nested
    class Retention extends RetentionTest {
    }
}
