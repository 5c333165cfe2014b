package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bad value in a SLUICE_ variable is a usage error that names the variable, not the flag the user never
 * typed, and does not bury that line under the whole usage; a typed flag wins over its variable.
 */
class EnvironmentErrorTest {
    @TempDir
    Path dir;

    private List<String> refused(Map<String, String> env, String... args) throws Exception {
        try (var cli = CliProcess.start(dir, null, env, args)) {
            assertEquals(2, cli.awaitExit(), cli.stderr());
            return cli.stderr().lines().toList();
        }
    }

    @Test
    void aBadVariableIsNamedInOneLineAndNothingIsCreated() throws Exception {
        Path data = dir.resolve("data");
        assertEquals(List.of("sluice: Invalid value for --port: 'abc' is not an int (from the environment variable "
                + "SLUICE_PORT)", "See 'sluice serve --help'."),
                refused(Map.of("SLUICE_PORT", "abc"), "serve", "--data-dir", data.toString()));
        assertEquals(List.of("sluice: --max-message-bytes must be positive, not -5 (from the environment variable "
                + "SLUICE_MAX_MESSAGE_BYTES)", "See 'sluice serve --help'."),
                refused(Map.of("SLUICE_MAX_MESSAGE_BYTES", "-5"), "serve", "--data-dir", data.toString()));
        assertFalse(Files.exists(data), "a refused start leaves no data directory");
    }

    @Test
    void aTypedFlagIsNamedAsTypedWithTheUsage() throws Exception {
        List<String> lines = refused(Map.of("SLUICE_PORT", "abc"), "serve", "--port=xyz", "--data-dir",
                dir.resolve("data").toString());
        assertEquals("Invalid value for option '--port': 'xyz' is not an int", lines.getFirst());
        assertEquals(true, lines.get(1).startsWith("Usage: sluice serve"), lines.toString());
    }
}
