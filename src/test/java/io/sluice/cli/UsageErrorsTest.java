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
        assertUsageError(sluice("token", "new", "bad id!"),
                "a token id is 1 or more of [A-Za-z0-9._@-], not 'bad id!'");
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

    @Test
    void negativeNumbersAreRefusedNamingTheOption() {
        // Before: sent as unsigned, e.g. --expect-last-seq 18446744073709551615.
        assertUsageError(sluice("publish", "orders", "x", "--expect-last-seq", "-1"),
                "Invalid value for option '--expect-last-seq': '-1' is not a sequence (0 to 18446744073709551615)");
        assertUsageError(sluice("reset-cursor", "idle", "gi", "-1"),
                "Invalid value for positional parameter at index 2 (SEQUENCE): '-1' is not a sequence");
        assertUsageError(sluice("topic", "configure", "t", "--max-bytes", "-5"),
                "--max-bytes must be 0 or more, not -5");
        assertUsageError(sluice("group", "configure", "t", "g", "--max-in-flight", "-2"),
                "--max-in-flight must be 0 or more, not -2");
        assertUsageError(sluice("group", "configure", "t", "g", "--max-deliveries=-1"),
                "--max-deliveries must be 0 or more, not -1");
        assertUsageError(sluice("subscribe", "t", "--timeout", "-5s"),
                "Invalid value for option '--timeout': '-5s' is negative; a duration is 0 or more");
        assertUsageError(sluice("group", "configure", "t", "g", "--ack-wait", "PT-1S"),
                "Invalid value for option '--ack-wait': 'PT-1S' is negative");
    }

    @Test
    void anAttributeWithoutEqualsIsNamedOnce() {
        Cli.Run r = sluice("publish", "orders", "x", "-a", "novalue");
        assertUsageError(r, "Invalid value for option '--attribute' (KEY=VALUE): 'novalue' is not KEY=VALUE");
        assertTrue(!r.err().contains("option option"), r.err());
    }
}
