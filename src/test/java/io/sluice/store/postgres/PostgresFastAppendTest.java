package io.sluice.store.postgres;

import static io.sluice.store.Stored.append;
import static io.sluice.store.Stored.message;
import static io.sluice.store.Stored.payloads;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.domain.MessageIds;
import io.sluice.store.Appended;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.NewMessage;
import io.sluice.store.Outcome;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicConfig;
import io.sluice.store.TopicStats;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Plain appends to plain topics are one statement ({@link PgFastAppend}); what they store must be what
 * the transaction stores, and a topic that stopped being plain behind this broker's back (limited,
 * deleted) must go the long way with nothing written twice.
 */
class PostgresFastAppendTest {
    @RegisterExtension
    final OpenedStores stores = new OpenedStores();

    private PostgresStore open(PostgresServer server, String schema) {
        return stores.open(server, schema);
    }

    @Test
    void aPlainAppendIsOneStatementAndStoresWhatTheTransactionStores() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        PostgresStore store = open(server, schema);
        List<Appended> answered = new ArrayList<>(append(store, "t", message("first")));
        assertEquals(0, store.oneStatementTransactions(), "a topic not known yet goes by a transaction");
        answered.addAll(append(store, "t", message("second", Map.of("k", "v")), message("third")));
        answered.addAll(append(store, "other", message("elsewhere")));
        answered.addAll(append(store, "t", message("fourth")));
        assertEquals(2, store.oneStatementTransactions(), "then the appends to the plain topic are one statement");

        List<StoredMessage> stored = store.read("t", 0, 10);
        assertEquals(List.of("first", "second", "third", "fourth"), payloads(stored));
        List<Appended> toT = List.of(answered.get(0), answered.get(1), answered.get(2), answered.get(4));
        for (int i = 0; i < stored.size(); i++) {
            StoredMessage m = stored.get(i);
            Appended a = toT.get(i);
            assertEquals(a.sequence(), m.sequence(), "message " + i + ": the answered sequence");
            assertEquals(a.id(), m.id(), "message " + i + ": the answered id is the stored one");
            assertEquals(a.timestamp(), m.timestamp(), "message " + i + ": the answered timestamp");
            assertEquals(a.sequence(), MessageIds.sequenceOf(m.id()).orElseThrow(), "the id names its sequence");
            assertEquals(a.timestamp(), m.id().getMostSignificantBits() >>> 16, "the id carries its timestamp");
            assertEquals(7, m.id().version());
        }
        assertEquals(Map.of("k", "v"), stored.get(1).attributes());
        assertEquals(answered.get(1).sequence() + 1, answered.get(2).sequence(), "one append, contiguous sequences");
        assertEquals(answered.get(1).timestamp(), answered.get(2).timestamp(), "one append, one timestamp");

        long bytes = 0;
        for (StoredMessage m : stored) {
            bytes += new NewMessage(m.payload(), m.attributes()).size();
        }
        TopicStats stats = store.stats(List.of("t")).getFirst();
        assertEquals(4, stats.totalMessages());
        assertEquals(bytes, stats.totalBytes(), "the topic's bytes count every message once");
        assertEquals(answered.get(4).sequence(), store.lastSequence("t"));
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT m.pos, m.bstart, t.last_pos, t.last_bytes FROM " + schema + ".messages m "
                     + "JOIN " + schema + ".topics t ON t.id = m.topic_id WHERE t.name = 't' ORDER BY m.seq")) {
            long before = 0;
            for (int i = 0; i < stored.size(); i++) {
                assertTrue(rs.next());
                assertEquals(i + 1, rs.getLong(1), "positions run 1..n");
                assertEquals(before, rs.getLong(2), "each row keeps the topic's bytes before it");
                assertEquals(4, rs.getLong(3));
                assertEquals(bytes, rs.getLong(4));
                StoredMessage m = stored.get(i);
                before += new NewMessage(m.payload(), m.attributes()).size();
            }
        }
    }

    @Test
    void otherBrokersAreNotifiedOfAPlainAppendWithEachTopicsLastSequence() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        PostgresStore store = open(server, schema);
        append(store, "t", message("known"));
        append(store, "u", message("known"));
        try (Connection listening = server.connectToDatabase(); Statement st = listening.createStatement()) {
            listening.setAutoCommit(true);
            st.execute("LISTEN \"" + PgNotifications.channelFor(schema) + "\"");
            var pg = listening.unwrap(PGConnection.class);
            long before = store.oneStatementTransactions();
            long last = append(store, "t", message("a"), message("b")).getLast().sequence();
            assertEquals(before + 1, store.oneStatementTransactions(), "one statement");

            var payloads = new ArrayList<String>();
            long deadline = System.nanoTime() + Outcome.WAIT.toNanos();
            while (payloads.isEmpty() && System.nanoTime() < deadline) {
                var received = pg.getNotifications(1_000);
                for (PGNotification n : received == null ? new PGNotification[0] : received) {
                    payloads.add(n.getParameter());
                }
            }
            assertEquals(List.of(last + " t\n"), payloads, "the topic appended to, with its last sequence, as a "
                    + "transaction's notification says it");
        }
    }

    @Test
    void concurrentAppendsToSeveralTopicsKeepEachTopicsPositionsAndBytes() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        PostgresStore store = open(server, schema);
        List<String> topics = List.of("x", "y", "z");
        for (String topic : topics) {
            append(store, topic, message("first of " + topic));
        }
        var writers = new ArrayList<Thread>();
        for (int w = 0; w < 8; w++) {
            int id = w;
            writers.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 60; i++) {
                    String payload = "w" + id + "-" + i + "-" + "p".repeat(i % 7);
                    append(store, topics.get((id + i) % topics.size()), message(payload), message(payload + "'"));
                }
            }));
        }
        for (Thread t : writers) {
            assertTrue(t.join(Outcome.WAIT), "a writer finished");
        }
        assertTrue(store.oneStatementTransactions() > 0, "the appends went by one statement");
        for (String topic : topics) {
            List<StoredMessage> stored = store.read(topic, 0, 1_000);
            assertEquals(1 + 8 * 60 * 2 / topics.size(), stored.size(), topic);
            try (Connection c = server.connectToDatabase(); Statement st = c.createStatement();
                 var rs = st.executeQuery("SELECT m.seq, m.pos, m.bstart FROM " + schema + ".messages m JOIN " + schema
                         + ".topics t ON t.id = m.topic_id WHERE t.name = '" + topic + "' ORDER BY m.seq")) {
                long before = 0;
                for (int i = 0; i < stored.size(); i++) {
                    assertTrue(rs.next());
                    StoredMessage m = stored.get(i);
                    assertEquals(m.sequence(), rs.getLong(1));
                    assertEquals(i + 1, rs.getLong(2), topic + ": positions run 1..n in sequence order");
                    assertEquals(before, rs.getLong(3), topic + ": each row keeps the topic's bytes before it");
                    before += new NewMessage(m.payload(), m.attributes()).size();
                }
                assertEquals(before, store.stats(List.of(topic)).getFirst().totalBytes());
            }
        }
    }

    @Test
    void aTopicLimitedOnAnotherBrokerIsTrimmedByItsNextAppendHere() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        PostgresStore a = open(server, schema);
        PostgresStore b = open(server, schema);
        append(a, "t", message("1"));
        append(a, "t", message("2"));
        assertEquals(1, a.oneStatementTransactions());
        configure(b, "t", new TopicConfig(0, 0, 2, TopicConfig.Discard.OLD, 0));

        append(a, "t", message("3"), message("4"), message("5"));
        assertEquals(1, a.oneStatementTransactions(), "refused as one statement: written by a transaction");
        assertEquals(List.of("4", "5"), payloads(a.read("t", 0, 10)), "which keeps the new limit");
        append(a, "t", message("6"));
        assertEquals(1, a.oneStatementTransactions(), "a limited topic's appends stay transactions");
        assertEquals(List.of("5", "6"), payloads(a.read("t", 0, 10)));
        TopicStats stats = a.stats(List.of("t")).getFirst();
        assertEquals(2, stats.totalMessages());
        assertEquals(4, stats.discarded());
    }

    @Test
    void aTopicDeletedOnAnotherBrokerStartsAgainAtItsNextAppendHere() throws Exception {
        PostgresServer server = PostgresServer.shared();
        String schema = server.freshSchema();
        PostgresStore a = open(server, schema);
        PostgresStore b = open(server, schema);
        append(a, "t", message("old 1"));
        long before = append(a, "t", message("old 2")).getFirst().sequence();
        var deleted = new Outcome<Boolean>();
        b.deleteTopic("t", deleted);
        assertTrue(deleted.value());

        long after = append(a, "t", message("new")).getFirst().sequence();
        assertEquals(List.of("new"), payloads(a.read("t", 0, 10)), "the topic starts empty");
        assertTrue(after > before, "sequences are never given again");
        try (Connection c = server.connectToDatabase(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT m.pos FROM " + schema + ".messages m JOIN " + schema
                     + ".topics t ON t.id = m.topic_id WHERE t.name = 't'")) {
            assertTrue(rs.next());
            assertEquals(1, rs.getLong(1), "its first message is its first position");
        }
        append(a, "t", message("newer"));
        assertEquals(2, a.oneStatementTransactions(), "the topic made again is learned plain again");
        assertEquals(List.of("new", "newer"), payloads(b.read("t", 0, 10)));
    }

    private static ConfiguredTopic configure(PostgresStore store, String topic, TopicConfig config)
            throws InterruptedException {
        var o = new Outcome<ConfiguredTopic>();
        store.configureTopic(topic, config, o);
        return o.value();
    }
}
