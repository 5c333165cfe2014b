package io.sluice.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.abort;

import io.sluice.server.TestBroker;
import io.sluice.server.security.Pki;
import io.sluice.server.security.SecurityConfig;
import io.sluice.server.security.Tokens;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proof that the wire contract works from another language: interop/node/interop.js, with
 * {@code @grpc/grpc-js} and {@code @grpc/proto-loader} from the npm registry, drives a real broker
 * (publish, batch publish, subscribe with credits, ack, reconnect and resume, takeover, stats). The
 * dependencies are installed with {@code npm ci} when node_modules is missing or older than the
 * lockfile. It runs twice: plaintext, and over TLS with a bearer token against a broker with an auth
 * file. Skipped, saying why, only where node or npm is not on the PATH.
 */
class NodeInteropTest {
    private static final Path PROJECT = Path.of(System.getProperty("basedir", "")).toAbsolutePath();
    private static final Path DIR = PROJECT.resolve("interop/node");
    private static final Duration INSTALL_LIMIT = Duration.ofMinutes(3);
    private static final Duration RUN_LIMIT = Duration.ofMinutes(2);

    @TempDir
    Path data;

    private record Outcome(int exit, String output) {
    }

    @Test
    void aNodeClientDrivesTheBrokerThroughTheWireContract() throws IOException, InterruptedException {
        Path node = nodeReady();
        try (TestBroker broker = TestBroker.start(data)) {
            expectAllChecks(run(List.of(node.toString(), "interop.js", "127.0.0.1:" + broker.port()), RUN_LIMIT,
                    Map.of()));
        }
    }

    /** The same run once over TLS with a bearer token, against a broker with an auth file. */
    @Test
    void aNodeClientDrivesTheBrokerOverTlsWithAToken() throws Exception {
        Path node = nodeReady();
        Pki pki = Pki.create(data, "interop");
        Pki.Issued server = pki.server("server");
        String token = Tokens.generate();
        Path auth = data.resolve("auth.yaml");
        Files.writeString(auth, "tokens:\n  - id: interop\n    sha256: " + Tokens.sha256Hex(token)
                + "\n    publish: ['>']\n    subscribe: ['>']\n    admin: ['>']\n");
        var security = SecurityConfig.none().withTls(server.cert(), server.key(), null, null).withAuth(auth, null);
        try (TestBroker broker = TestBroker.start(data.resolve("data"), security)) {
            Outcome interop = run(List.of(node.toString(), "interop.js", "127.0.0.1:" + broker.port()), RUN_LIMIT,
                    Map.of("SLUICE_TLS_CA", pki.ca().toString(), "SLUICE_TOKEN", token));
            expectAllChecks(interop);
            assertFalse(interop.output().contains(token), "the token appears in the output");
        }
    }

    private static void expectAllChecks(Outcome interop) {
        System.out.print(interop.output());
        assertEquals(0, interop.exit(), () -> "interop.js found a mismatch:\n" + interop.output());
        assertTrue(interop.output().contains("interop: all "), interop.output());
    }

    /** node, with interop.js's dependencies installed; aborts the test (skipped) where node or npm is missing. */
    private static Path nodeReady() throws IOException, InterruptedException {
        Optional<Path> node = onPath("node");
        Optional<Path> npm = onPath("npm");
        if (node.isEmpty() || npm.isEmpty()) {
            String why = "skipped: the Node.js interop test needs node and npm on the PATH (found node: "
                    + node.isPresent() + ", npm: " + npm.isPresent() + ")";
            System.out.println("NodeInteropTest " + why);   // surefire's console shows only the count
            abort(why);
        }

        synchronized (NodeInteropTest.class) {
            if (dependenciesAreStale()) {
                Outcome install = run(List.of(npm.get().toString(), "ci", "--no-audit", "--no-fund"), INSTALL_LIMIT,
                        Map.of());
                assertEquals(0, install.exit(), () -> "npm ci failed in " + DIR + ":\n" + install.output());
            }
        }
        return node.get();
    }

    /** True when node_modules is missing or was installed before the lockfile last changed. */
    private static boolean dependenciesAreStale() throws IOException {
        Path installed = DIR.resolve("node_modules/.package-lock.json");   // written by npm at install
        return !Files.exists(installed) || Files.getLastModifiedTime(installed)
                .compareTo(Files.getLastModifiedTime(DIR.resolve("package-lock.json"))) < 0;
    }

    private static Optional<Path> onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, program);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** Runs a command in interop/node, its output and errors together, killing it past {@code limit}. */
    private static Outcome run(List<String> command, Duration limit, Map<String, String> env)
            throws IOException, InterruptedException {
        var builder = new ProcessBuilder(command).directory(DIR.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().keySet().removeIf(k -> k.startsWith("SLUICE_"));
        builder.environment().putAll(env);
        Process p = builder.start();
        var output = new ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> copy(p.getInputStream(), output));
        if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            reader.join(Duration.ofSeconds(10));
            throw new AssertionError(String.join(" ", command) + " did not finish within " + limit.toSeconds()
                    + " s:\n" + output.toString(StandardCharsets.UTF_8));
        }
        reader.join(Duration.ofSeconds(10));
        return new Outcome(p.exitValue(), output.toString(StandardCharsets.UTF_8));
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
