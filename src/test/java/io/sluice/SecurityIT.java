package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.cli.Main;
import io.sluice.client.ClientOptions;
import io.sluice.client.SluiceClient;
import io.sluice.client.SluiceClientException;
import io.sluice.server.security.Pki;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The jar with the security flags of SPEC §7, as an operator runs it: TLS, an auth file, the audit
 * log and the metrics endpoint on loopback; a token made by {@code sluice token new} is admitted after
 * SIGHUP (the file watcher is slowed down so only the signal can do it), and no token appears in the
 * broker's output or its audit log.
 */
class SecurityIT {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void tlsTokensAuditAndSighupReloadOnTheJar() throws Exception {
        Pki pki = Pki.create(dir, "it");
        Pki.Issued server = pki.server("server");
        String first = newToken("ci");
        String entry = first.substring(first.indexOf("  - id: ci"));
        String token = tokenOf(first);
        Path auth = dir.resolve("auth.yaml");
        Files.writeString(auth, "tokens:\n" + entry.replace("publish: []", "publish: ['orders.>']")
                .replace("admin: []", "admin: ['>']"));
        Path audit = dir.resolve("audit.log");
        int metricsPort;
        try (var probe = new ServerSocket(0)) {
            metricsPort = probe.getLocalPort();
        }
        var child = BrokerProcess.start(dir, List.of("-Xmx128m"), List.of("serve", "--port", "0", "--host", "127.0.0.1",
                "--metrics-host", "127.0.0.1", "--metrics-port", String.valueOf(metricsPort),
                "--data-dir", dir.resolve("data").toString(), "--log-level", "info",
                "--tls-cert", server.cert().toString(), "--tls-key", server.key().toString(),
                "--auth-file", auth.toString(), "--audit-log", audit.toString(), "--reload-interval", "60m"), Map.of());
        try {
            String banner = child.awaitBanner();
            assertTrue(banner.contains("metrics on http://127.0.0.1:" + metricsPort) && banner.contains("TLS")
                    && banner.contains("auth file"), banner);
            String target = "127.0.0.1:" + child.port();
            try (var client = SluiceClient.connect(target, ClientOptions.defaults().tls(pki.ca()).token(token))) {
                assertTrue(client.publish("orders.eu", new byte[] {1}).sequence() > 0);
                assertEquals(Status.Code.PERMISSION_DENIED,
                        assertThrows(SluiceClientException.class,
                                () -> client.publish("billing", new byte[] {1})).code());
                client.deleteTopic("orders.gone");   // an admin call: one audit line
            }

            String second = newToken("ci2");
            String token2 = tokenOf(second);
            try (var client = SluiceClient.connect(target, ClientOptions.defaults().tls(pki.ca()).token(token2))) {
                assertEquals(Status.Code.UNAUTHENTICATED,
                        assertThrows(SluiceClientException.class, client::topics).code());
                Files.writeString(auth, Files.readString(auth) + second.substring(second.indexOf("  - id: ci2"))
                        .replace("subscribe: []", "subscribe: ['orders.>']"));
                new ProcessBuilder("kill", "-HUP", String.valueOf(child.pid())).start().waitFor();
                child.awaitOutput("reloaded auth file", WAIT);
                assertEquals(List.of("orders.eu"), client.topics().stream().map(t -> t.name()).toList());
            }

            var cliOut = new StringWriter();
            int exit = Main.run(System.in, new PrintWriter(cliOut), new PrintWriter(new StringWriter()), "topics",
                    "--target", target, "--tls-ca", pki.ca().toString(), "--token", token);
            assertEquals(0, exit, cliOut.toString());
            assertTrue(cliOut.toString().contains("orders.eu"), cliOut.toString());

            var metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).timeout(WAIT).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
        } finally {
            int exit = child.terminate(WAIT);
            assertEquals(0, exit, child::transcript);
        }
        String auditLines = Files.readString(audit);
        assertTrue(auditLines.contains("\"rpc\":\"DeleteTopic\"") && auditLines.contains("\"decision\":\"deny\""),
                auditLines);
        String everything = child.transcript() + auditLines;
        assertFalse(everything.contains(token) || everything.contains(tokenOf(newToken("unused"))),
                "a token appears in the broker's output or audit log");
        assertTrue(child.transcript().contains("reloaded auth file"), child.transcript());
    }

    /** {@code sluice token new ID}'s output. */
    private static String newToken(String id) {
        var out = new StringWriter();
        var err = new StringWriter();
        assertEquals(0, Main.run(System.in, new PrintWriter(out), new PrintWriter(err), "token", "new", id),
                err::toString);
        return out.toString();
    }

    private static String tokenOf(String output) {
        var m = Pattern.compile("^token: (sluice_[A-Za-z0-9_-]{43})$", Pattern.MULTILINE).matcher(output);
        assertTrue(m.find(), output);
        return m.group(1);
    }
}
