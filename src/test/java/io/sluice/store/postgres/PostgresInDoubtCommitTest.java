package io.sluice.store.postgres;

import static io.sluice.store.Stored.append;
import static io.sluice.store.Stored.message;
import static io.sluice.store.Stored.payloads;
import static io.sluice.store.Stored.sequences;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.client.TcpProxy;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Outcome;
import io.sluice.store.Store;
import io.sluice.store.StoreOptions;
import io.sluice.store.StoredMessage;
import io.sluice.store.WhenFull;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.TopicConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A COMMIT whose answer never arrives: the store's connections go through a TCP proxy to a real
 * PostgreSQL, and the proxy cuts them at the moment of the writer's COMMIT (from the commit hook,
 * on the writer thread, just before the COMMIT is sent). The store must learn the outcome before
 * answering: stored with its sequences when the COMMIT took effect, not stored when it did not.
 * Each case runs twice: appends to a topic with a count limit go by a transaction ending in a COMMIT;
 * to a topic without limits, by one statement that commits by itself ({@link PgFastAppend}), cut the same way.
 */
class PostgresInDoubtCommitTest {
    private final AtomicReference<Runnable> atNextCommit = new AtomicReference<>();

    /** A store whose topic "t" has a count limit (its appends are transactions) or none (one statement each). */
    private Store open(TcpProxy proxy, String schema, boolean limited) throws InterruptedException {
        Store store = open(proxy, schema);
        if (limited) {
            var configured = new Outcome<ConfiguredTopic>();
            store.configureTopic("t", new TopicConfig(0, 0, 1_000_000, TopicConfig.Discard.OLD, 0), configured);
            configured.value();
        }
        return store;
    }

    /**
     * Whether the appends went the way the case is about. Once a second the writer's background
     * transaction (retention) joins the writes it finds queued, and a batch with it is a transaction:
     * an append to the plain topic may go the long way when it meets that tick (as a reconnect after the
     * cut makes likely on a loaded machine), so a plain topic's appends are made until one went alone.
     */
    private static void assertPath(Store store, boolean limited) {
        var postgres = (PostgresStore) store;
        if (limited) {
            assertEquals(0, postgres.oneStatementTransactions(), "a limited topic's appends are transactions");
            return;
        }
        Await.until("an append to the plain topic goes as one statement", () -> {
            if (postgres.oneStatementTransactions() > 0) {
                return true;
            }
            append(store, "t", message("probe"));
            return postgres.oneStatementTransactions() > 0;
        }, postgres::oneStatementTransactions);
    }

    private Store open(TcpProxy proxy, String schema) {
        String url = "postgresql://" + PostgresServer.USER + "@127.0.0.1:" + proxy.port() + "/"
                + PostgresServer.DATABASE + "?currentSchema=" + schema;
        StoreOptions options = StoreOptions.defaults().withBeforeCommit(writes -> {
            Runnable action = atNextCommit.getAndSet(null);
            if (action != null) {
                action.run();
            }
        });
        return PostgresStore.open(DatabaseUrl.parse(url, PostgresServer.PASSWORD, null), options,
                (ops, messages, nanos) -> { });
    }

    @ParameterizedTest(name = "limited topic: {0}")
    @ValueSource(booleans = {true, false})
    void aCommitThatTookEffectButWhoseAnswerWasLostIsAnsweredAsStoredWithItsSequences(boolean limited) throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        try (var proxy = new TcpProxy(server.port()); Store store = open(proxy, schema, limited);
             Connection direct = server.connectToDatabase()) {
            Appended first = append(store, "t", message("first")).getFirst();
            // The server's answer to the COMMIT is held back; once the commit is visible on a
            // connection of its own, every connection through the proxy is reset.
            atNextCommit.set(() -> {
                proxy.holdAnswers();
                Thread.ofVirtual().start(() -> {
                    try {
                        Await.until("the COMMIT took effect on the server", () -> storedRows(direct, schema) == 3);
                    } finally {
                        proxy.cutAll();
                        proxy.release();
                    }
                });
            });

            List<Appended> second = append(store, "t", message("second"), message("third"));

            assertEquals(List.of(first.sequence() + 1, first.sequence() + 2),
                    second.stream().map(Appended::sequence).toList(),
                    "answered as stored, with the sequences its transaction got");
            Appended after = append(store, "t", message("after")).getFirst();
            assertEquals(first.sequence() + 3, after.sequence());
            List<StoredMessage> stored = readAll(store);
            assertEquals(List.of("first", "second", "third", "after"), payloads(stored));
            assertEquals(second.get(1).id(), stored.get(2).id(), "the answered id is the stored one");
            assertEquals(second.get(1).timestamp(), stored.get(2).timestamp(), "and so is the timestamp");
            assertPath(store, limited);
        }
    }

    @ParameterizedTest(name = "limited topic: {0}")
    @ValueSource(booleans = {true, false})
    void aCommitCutBeforeItReachedTheServerIsAnsweredAsNotStoredAndLeavesNoGap(boolean limited) throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        try (var proxy = new TcpProxy(server.port()); Store store = open(proxy, schema, limited)) {
            Appended first = append(store, "t", message("first")).getFirst();
            atNextCommit.set(proxy::cutAll);

            var lost = new Outcome<List<Appended>>();
            store.append("t", List.of(message("lost")), WhenFull.WAIT, lost);

            assertTrue(lost.await(Outcome.WAIT), "answered");
            var failure = assertInstanceOf(SluiceException.Unavailable.class, lost.failure(),
                    "a COMMIT that did not take effect is answered as failed");
            assertTrue(failure.getMessage().contains("did not take effect"), failure.getMessage());
            Appended after = append(store, "t", message("after")).getFirst();
            assertEquals(first.sequence() + 1, after.sequence(), "the rolled-back sequence is given again: no gap");
            List<StoredMessage> stored = readAll(store);
            assertEquals(List.of("first", "after"), payloads(stored));
            assertEquals(List.of(first.sequence(), after.sequence()), sequences(stored));
            assertPath(store, limited);
        }
    }

    /** The topic's messages, once the store's read connections (cut too) answer again. */
    private static List<StoredMessage> readAll(Store store) {
        var read = new AtomicReference<List<StoredMessage>>();
        Await.until("reads answer again after the cut", () -> {
            try {
                read.set(store.read("t", 0, 100));
                return true;
            } catch (SluiceException.Unavailable e) {
                return false;
            }
        });
        return read.get();
    }

    private static long storedRows(Connection c, String schema) {
        try (Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT count(*) FROM " + schema + ".messages")) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
