package io.sluice.cli;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** A test of the command line against a broker of its own ({@link Cli}), started and stopped around each test. */
abstract class CliCase {
    @TempDir
    Path dir;

    Cli cli;

    @BeforeEach
    void startCli() {
        cli = Cli.start(dir.resolve("data"));
    }

    @AfterEach
    void stopCli() throws InterruptedException {
        cli.close();
    }
}
