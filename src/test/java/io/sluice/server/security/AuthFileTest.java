package io.sluice.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientOptions;
import io.sluice.client.SluiceClient;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The auth file's rules: patterns, parsing, and the errors that refuse a file whole. */
class AuthFileTest {

    @Test
    void patternsMatchWholeTokens() {
        TopicPattern one = TopicPattern.parse("orders.*");
        assertTrue(one.matches("orders.eu"));
        assertFalse(one.matches("orders.eu.x"));
        assertFalse(one.matches("orders"));
        assertFalse(one.matches("orders."));
        assertFalse(one.matches("ordersx.eu"));
        TopicPattern rest = TopicPattern.parse("orders.>");
        assertTrue(rest.matches("orders.eu"));
        assertTrue(rest.matches("orders.eu.x"));
        assertFalse(rest.matches("orders"));
        assertFalse(rest.matches("billing.eu"));
        TopicPattern exact = TopicPattern.parse("audit");
        assertTrue(exact.matches("audit"));
        assertFalse(exact.matches("audit.x"));
        assertFalse(exact.matches("audi"));
        assertTrue(TopicPattern.parse(">").matches("anything.at.all"));
        assertTrue(TopicPattern.parse("*.eu.*").matches("orders.eu.x"));
        assertFalse(TopicPattern.parse("*.eu.*").matches("orders.us.x"));
    }

    @Test
    void badPatternsAreRefusedWithTheirReason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TopicPattern.parse("orders.>.x"))
                .getMessage().contains("'>' may only be the last token"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TopicPattern.parse("orders..x"))
                .getMessage().contains("empty token"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TopicPattern.parse("ord*rs"))
                .getMessage().contains("token 'ord*rs'"));
    }

    @Test
    void theSpecExampleParses() {
        String hash = "a".repeat(64);
        AuthFile f = AuthFile.parse("""
                tokens:
                  - id: ingest
                    sha256: %s
                    expires: 2027-01-01T00:00:00Z
                    publish: ["orders.>", "audit"]
                    subscribe: ["orders.*"]
                    admin: []
                clients:
                  - name: billing
                    publish: []
                    subscribe: ["orders.>"]
                    admin: []
                anonymous:
                  subscribe: ["public.>"]
                """.formatted(hash));
        assertEquals(1, f.tokens().size());
        AuthFile.Token t = f.tokens().getFirst();
        assertEquals("ingest", t.id());
        assertEquals(Instant.parse("2027-01-01T00:00:00Z"), t.expires());
        assertTrue(t.grants().allows(Action.PUBLISH, "audit"));
        assertTrue(t.grants().allows(Action.SUBSCRIBE, "orders.eu"));
        assertFalse(t.grants().allows(Action.ADMIN, "orders.eu"));
        assertEquals(List.of("billing"), f.clients().stream().map(AuthFile.Client::name).toList());
        assertTrue(f.anonymous().allows(Action.SUBSCRIBE, "public.news"));
        assertNull(AuthFile.parse("tokens: []\n").anonymous(), "no anonymous section: anonymous calls refused");
    }

    @Test
    void anyErrorRefusesTheFileNamingIt() {
        String hash = "b".repeat(64);
        assertRefused("tokens:\n  - id: a\n    sha256: abc\n", "64 hex digits");
        assertRefused("tokens:\n  - id: a\n    sha256: " + hash + "\n  - id: a\n    sha256: " + hash + "\n",
                "appears twice");
        assertRefused("tokens:\n  - id: a\n    sha256: " + hash + "\n    publsh: []\n", "unknown key 'publsh'");
        assertRefused("tokens:\n  - id: a\n    sha256: " + hash + "\n    expires: next week\n", "not a UTC time");
        assertRefused("tokens:\n  - id: a\n    sha256: " + hash + "\n    publish: ['a..b']\n", "token 'a'");
        assertRefused("tokens: [\n", "not valid YAML");
        // where the YAML breaks, never the line itself: it may hold a hash, or a token pasted by mistake
        var broken = assertThrows(IllegalArgumentException.class, () -> AuthFile.parse(
                "tokens:\n  - id: a\n    sha256: \"" + hash + "\n    publish: []\n"));
        assertTrue(broken.getMessage().startsWith("not valid YAML: while scanning a quoted scalar at line 3")
                && !broken.getMessage().contains("bbbb"), broken.getMessage());
        assertRefused("users: []\n", "unknown key 'users'");
    }

    private static void assertRefused(String yaml, String reason) {
        var e = assertThrows(IllegalArgumentException.class, () -> AuthFile.parse(yaml));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test
    void aTokenEntryHoldsTheHashNeverTheToken() {
        String token = Tokens.generate();
        assertTrue(token.matches("sluice_[A-Za-z0-9_-]{43}"), token);
        String entry = Tokens.authFileEntry("ci", token);
        assertFalse(entry.contains(token));
        AuthFile f = AuthFile.parse("tokens:\n" + entry);
        assertEquals("ci", f.tokens().getFirst().id());
        assertEquals(Tokens.sha256Hex(token), java.util.HexFormat.of().formatHex(f.tokens().getFirst().sha256()));
    }

    @Test
    void oneHashUnderTwoIdsIsRefusedNamingBoth() {
        String hash = "c".repeat(64);
        assertRefused("tokens:\n  - id: a\n    sha256: " + hash + "\n  - id: b\n    sha256: " + hash.toUpperCase()
                + "\n", "tokens 'a' and 'b' have the same sha256");
    }

    @Test
    void aReloadWithOneHashUnderTwoIdsKeepsTheOldFile(@TempDir Path dir) throws Exception {
        String token = Tokens.generate();
        String entry = Tokens.authFileEntry("ops", token).replace("publish: []", "publish: [\">\"]");
        Path file = Files.writeString(dir.resolve("auth.yaml"), "tokens:\n" + entry);
        try (TestBroker broker = TestBroker.start(dir.resolve("data"), SecurityConfig.none().withAuth(file, null));
             SluiceClient client = SluiceClient.connect("127.0.0.1:" + broker.port(),
                     ClientOptions.defaults().token(token))) {
            client.publish("t", "before".getBytes(StandardCharsets.UTF_8));
            Files.writeString(file, "tokens:\n" + entry.replace("publish: [\">\"]", "publish: []")
                    + entry.replace("id: ops", "id: intruder"));
            assertTrue(broker.server().security().reloadAndWait(Duration.ofSeconds(20)));
            client.publish("t", "after".getBytes(StandardCharsets.UTF_8));   // still ops, with ops' old grants
            assertEquals(2, client.stats("t").getFirst().totalMessages());
        }
    }

    @Test
    void aFileThatAdmitsNoOneIsTakenWithAWarning(@TempDir Path dir) throws IOException {
        Logger logger = Logger.getLogger(AuthFile.class.getName());
        var warnings = new CopyOnWriteArrayList<String>();
        Handler recorder = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(recorder);
        try {
            Path empty = Files.writeString(dir.resolve("empty.yaml"), "");
            assertTrue(AuthFile.read(empty).admitsNoOne());
            AuthFile.read(Files.writeString(dir.resolve("lists.yaml"), "tokens: []\nclients: []\n"));
            assertEquals(2, warnings.size(), warnings.toString());
            assertEquals("the auth file " + empty + " admits no one: it has no tokens, no clients and no anonymous "
                    + "section, so every call is refused with UNAUTHENTICATED", warnings.getFirst());
            AuthFile anonymous = AuthFile.read(Files.writeString(dir.resolve("anonymous.yaml"),
                    "anonymous:\n  subscribe: [\"public.>\"]\n"));
            assertFalse(anonymous.admitsNoOne());
            assertEquals(2, warnings.size(), warnings.toString());
        } finally {
            logger.removeHandler(recorder);
        }
    }
}
