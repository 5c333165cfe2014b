package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import org.junit.jupiter.api.Test;

/** Usage errors exit with 2 before anything is done or printed on stdout, naming what is wrong; no broker needed. */
class UsageErrorsTest {
    private static Cli.Run sluice(String... args) {
        return Cli.bare(new ByteArrayInputStream(new byte[0]), args);
    }

    private static void assertUsageError(Cli.Run r, String message) {
        assertEquals(2, r.exit(), () -> "stdout: " + r.out() + " stderr: " + r.err());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith(message), r.err());
    }

    @Test
    void tokenNewRefusesABadIdBeforePrintingAToken() {
        assertUsageError(sluice("token", "new", "bad id!"), "a token id is 1 or more of [A-Za-z0-9._@-], not 'bad id!'");
        Cli.Run good = sluice("token", "new", "ingest");
        assertEquals(0, good.exit(), good.err());
        assertTrue(good.out().startsWith("token: sluice_"), good.out());
        assertTrue(good.out().contains("  - id: ingest\n"), good.out());
    }

    @Test
    void aCommandGroupWithoutItsSubcommandIsAUsageError() {
        assertUsageError(sluice("token"), "name a subcommand: new");
        assertUsageError(sluice("group"), "name a subcommand: configure");
        assertUsageError(sluice("topic"), "name a subcommand: configure");
    }
}
