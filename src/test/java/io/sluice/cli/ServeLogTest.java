package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** serve --log-level debug, as a child process: the broker's debug lines, not the JDK's stack traces. */
class ServeLogTest {
    @TempDir
    Path dir;

    @Test
    void debugLogsNoJdkStackTracesForProcessStartsOrTheExit() throws Exception {
        try (var serve = CliProcess.start(dir, null, "serve", "--host", "127.0.0.1", "--port", "0", "--metrics-port",
                "0", "--data-dir", dir.resolve("data").toString(), "--log-level", "DEBUG")) {
            Await.until("the broker's banner", () -> {
                try {
                    return !serve.lines().isEmpty();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            serve.signal("TERM");
            assertEquals(0, serve.awaitExit(), serve.stderr());
            String log = serve.stderr();
            assertTrue(log.contains(" DEBUG "), "debug lines are written: " + log);
            assertFalse(log.contains("ProcessBuilder"), log);
            assertFalse(log.contains("Runtime.exit"), log);
        }
    }
}
