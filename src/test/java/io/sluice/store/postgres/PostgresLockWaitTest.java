package io.sluice.store.postgres;

import static io.sluice.store.Stored.append;
import static io.sluice.store.Stored.message;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Outcome;
import io.sluice.store.Store;
import io.sluice.store.StoreOptions;
import io.sluice.store.WhenFull;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A lock another session holds on the broker's tables (an operator's LOCK TABLE, a paused broker's
 * open transaction) fails the writes that wait on it after lock_timeout, as UNAVAILABLE naming it,
 * rather than holding the writer until the socket times out; writes go on once it is released. The
 * broker sets 10 s on every connection; this test's URL sets 300 ms, as an operator's may.
 */
class PostgresLockWaitTest {
    @Test
    void aLockHeldElsewhereFailsTheWritesWaitingOnItUnavailableNamingIt() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        String url = server.url(schema) + "&options=-c%20lock_timeout%3D300";
        try (Store store = PostgresStore.open(DatabaseUrl.parse(url, PostgresServer.PASSWORD, null),
                StoreOptions.defaults(), (ops, messages, nanos) -> { });
             Connection operator = server.connectToDatabase(); Statement st = operator.createStatement()) {
            append(store, "t", message("before"));
            operator.setAutoCommit(false);
            st.execute("LOCK TABLE " + schema + ".sluice_counter IN ACCESS EXCLUSIVE MODE");
            var waiting = new Outcome<List<Appended>>();
            store.append("t", List.of(message("while locked")), WhenFull.WAIT, waiting);
            var unavailable = assertInstanceOf(SluiceException.Unavailable.class, waiting.error());
            assertTrue(unavailable.getMessage().contains("a lock another database session holds"),
                    unavailable.getMessage());
            operator.rollback();
            append(store, "t", message("after"));
        }
    }
}
