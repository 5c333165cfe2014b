package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * serve refuses what cannot work before it opens anything, naming the flag and what is wrong. Each run
 * is in-process and must end in a refusal; the timeout only keeps a regression from hanging the build.
 */
@Timeout(60)
class ServeOptionsTest {
    @TempDir
    Path dir;

    private Cli.Run serve(String... args) {
        return Cli.bare(new ByteArrayInputStream(new byte[0]), Stream.concat(
                Stream.of("serve", "--host", "127.0.0.1", "--data-dir", dir.resolve("data").toString()),
                Stream.of(args)).toArray(String[]::new));
    }

    @Test
    void theSamePortForGrpcAndMetricsIsAUsageError() {
        Cli.Run r = serve("--port", "45871", "--metrics-port", "45871");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().startsWith("--port and --metrics-port are both 45871: the metrics endpoint needs a port of "
                + "its own (--metrics-port 0 turns it off)"), r.err());
        assertFalse(Files.exists(dir.resolve("data")), "nothing was opened");
    }

    @Test
    void anUnknownLogLevelIsAUsageError() {
        Cli.Run r = serve("--log-level", "verbose");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().startsWith("--log-level (env SLUICE_LOG_LEVEL): unknown log level 'verbose'"), r.err());
        assertFalse(Files.exists(dir.resolve("data")), "nothing was opened");
    }

    @Test
    void aSecurityFileThatCannotBeReadIsNamedWithItsFlagAndWhy() throws IOException {
        Path missing = dir.resolve("af").resolve("missing.yaml");
        Path key = Files.writeString(dir.resolve("key.pem"), "not a key");
        assertRefused(serve("--port", "0", "--metrics-port", "0", "--auth-file", missing.toString()),
                "--auth-file " + missing + ": no such file");
        assertRefused(serve("--port", "0", "--metrics-port", "0", "--tls-cert", dir.toString(), "--tls-key",
                key.toString()), "--tls-cert " + dir + ": is a directory, not a file");
        assertRefused(serve("--port", "0", "--metrics-port", "0", "--tls-client-ca", missing.toString()),
                "--tls-client-ca " + missing + ": no such file");
        assertRefused(serve("--port", "0", "--metrics-port", "0", "--audit-log", missing.toString()),
                "--audit-log " + missing + ": no such directory " + missing.getParent());
        assertRefused(serve("--port", "0", "--metrics-port", "0", "--database-url", "postgresql://u@h:5432/db",
                "--database-password-file", missing.toString()), "--database-password-file " + missing + ": no such "
                + "file");
        assertFalse(Files.exists(dir.resolve("data")), "nothing was opened");
    }

    @Test
    void anEmptyDatabaseUrlIsRefusedRatherThanTakenForSqlite() {
        assertRefused(serve("--port", "0", "--metrics-port", "0", "--database-url", ""), "--database-url is empty "
                + "(is SLUICE_DATABASE_URL set to an empty value?): give a PostgreSQL URL, or leave both out to keep "
                + "the data in SQLite in --data-dir");
        assertFalse(Files.exists(dir.resolve("data")), "no SQLite database was made");
    }

    @Test
    void limitsTheHeapCannotHoldAreRefused() {
        long mib = 1 << 20;
        assertNull(ServeCommand.heapProblem(16 * mib, 0, 128 * mib), "the defaults fit -Xmx128m");
        assertNull(ServeCommand.heapProblem(16 * mib, 0, 64 * mib), "and -Xmx64m");
        assertNull(ServeCommand.heapProblem(16 * mib, 64 * mib, 128 * mib));
        String batch = ServeCommand.heapProblem(100 * mib, 0, 256 * mib);
        assertTrue(batch != null && batch.startsWith("--max-batch-bytes 104857600 is too large for this heap (256 "
                + "MiB)") && batch.contains("at most 87381333"), batch);
        String budget = ServeCommand.heapProblem(16 * mib, 99_999_999_999L, 256 * mib);
        assertTrue(budget != null && budget.startsWith("--max-queued-bytes 99999999999 is more than half"), budget);
        Cli.Run r = serve("--port", "0", "--metrics-port", "0", "--max-queued-bytes", Long.toString(Long.MAX_VALUE));
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().startsWith("--max-queued-bytes " + Long.MAX_VALUE + " is more than half"), r.err());
        assertFalse(Files.exists(dir.resolve("data")), "nothing was opened");
    }

    @Test
    void aMetricsHostThatCannotBeListenedOnNamesItsFlag() throws IOException {
        int port;
        try (var free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        // 192.0.2.1 is a documentation address: no interface here has it.
        Cli.Run r = serve("--port", "0", "--metrics-host", "192.0.2.1", "--metrics-port", Integer.toString(port));
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("cannot listen for metrics on 192.0.2.1:" + port + " (--metrics-host or --host, "
                + "--metrics-port)"), r.err());
    }

    private static void assertRefused(Cli.Run r, String message) {
        assertEquals(1, r.exit(), r.err());
        assertEquals("sluice: " + message + "\n", r.err());
    }
}
