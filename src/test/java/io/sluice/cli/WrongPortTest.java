package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.sluice.server.TestBroker;
import io.sluice.server.security.Pki;
import io.sluice.server.security.SecurityConfig;
import io.sluice.telemetry.Telemetry;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A client pointed at a port that is not a gRPC one, or with the wrong TLS setting, is told what to change. */
class WrongPortTest {
    @TempDir
    Path dir;

    private static Cli.Run sluice(String... args) {
        return Cli.bare(new ByteArrayInputStream(new byte[0]), args);
    }

    /** Exit 1 and one line on stderr, {@code sluice: <start>...}, that contains {@code hint}. */
    private static void assertFails(Cli.Run r, String start, String hint) {
        assertEquals(1, r.exit(), () -> "stdout: " + r.out() + " stderr: " + r.err());
        assertTrue(r.err().startsWith("sluice: " + start), r.err());
        assertTrue(r.err().contains(hint), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void aPortThatSpeaksHttpOneIsNamedAsNotGrpc() throws Exception {
        // Stands in for the broker's metrics port: an HTTP/1.1 server.
        Telemetry.httpServerLimits();   // read once per process: the broker's settings, whoever is first
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.start();
        try {
            String target = "127.0.0.1:" + http.getAddress().getPort();
            assertFails(sluice("topics", "--target", target), "INTERNAL: " + target + " does not speak gRPC (is it "
                    + "the broker's metrics port?", "First received frame was not SETTINGS");
        } finally {
            http.stop(0);
        }
    }

    @Test
    void aTlsMismatchSaysWhichFlagToChange() throws Exception {
        Pki pki = Pki.create(dir, "wrong-port");
        Pki.Issued server = pki.server("broker");
        try (TestBroker tls = TestBroker.start(dir.resolve("tls"),
                SecurityConfig.none().withTls(server.cert(), server.key(), null, null));
             TestBroker plain = TestBroker.start(dir.resolve("plain"))) {
            String tlsTarget = "127.0.0.1:" + tls.port();
            String plainTarget = "127.0.0.1:" + plain.port();

            assertFails(sluice("topics", "--target", tlsTarget), "UNAVAILABLE: ",
                    "the broker at " + tlsTarget + " closed the connection: if it serves TLS, add --tls");
            assertFails(sluice("topics", "--target", tlsTarget, "--tls"), "UNAVAILABLE: cannot reach the broker at "
                    + tlsTarget, "the broker's certificate is not signed by an authority this system trusts; give "
                    + "its authority's certificate with --tls-ca FILE");
            assertEquals(0, sluice("topics", "--target", tlsTarget, "--tls-ca", pki.ca().toString()).exit());

            Cli.Run tlsToPlain = sluice("topics", "--target", plainTarget, "--tls-ca", pki.ca().toString());
            assertFails(tlsToPlain, "UNAVAILABLE: cannot reach the broker at " + plainTarget + ": not an SSL/TLS "
                    + "record: it does not speak TLS on that port; drop --tls and --tls-ca", "");
            assertTrue(!tlsToPlain.err().contains("Channel Pipeline"), tlsToPlain.err());
        }
    }

    @Test
    void aBrokerRequiringAClientCertificateNamesTheFlagsThatGiveOne() throws Exception {
        Pki pki = Pki.create(dir, "cert-required");
        Pki.Issued server = pki.server("broker");
        try (TestBroker tls = TestBroker.start(dir.resolve("require"), SecurityConfig.none()
                .withTls(server.cert(), server.key(), pki.ca(), SecurityConfig.ClientAuth.REQUIRE))) {
            String target = "127.0.0.1:" + tls.port();
            assertFails(sluice("topics", "--target", target, "--tls-ca", pki.ca().toString()), "UNAVAILABLE: ",
                    "the broker requires a client certificate; give yours with --tls-cert FILE and --tls-key FILE");
        }
    }
}
