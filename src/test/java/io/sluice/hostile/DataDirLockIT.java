package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.BrokerProcess;
import io.sluice.Figures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Case 1, an operator mistake: a second broker started on the data directory of a running one
 * refuses to start (exit code not 0, stderr naming the directory and the holder's pid); the first
 * keeps serving and loses nothing. A SIGHUP with nothing to reload does not stop it either.
 */
class DataDirLockIT extends HostileCase {

    @Test
    void aSecondBrokerOnTheSameDataDirectoryRefusesToStartNamingTheDirectoryAndTheHolder() throws Exception {
        HostileBroker first = start();
        first.startBackground();
        String holder = Long.toString(first.process.pid());
        int attempts = Figures.scaled(1, 10);
        var codes = new ArrayList<String>();
        for (int i = 0; i < attempts; i++) {
            BrokerProcess second = BrokerProcess.start(dir, HostileBroker.jvmOptions(), List.of("serve",
                    "--port", "0", "--metrics-port", "0", "--host", "127.0.0.1",
                    "--data-dir", first.data.toString(), "--log-level", "warn"), Map.of());
            try {
                String banner = null;
                try {
                    banner = second.awaitBanner();   // returns only when it serves; fails when it ends first
                } catch (AssertionError ended) {
                    // it ended without serving: what is expected
                }
                if (banner != null) {
                    first.failure("the second broker on the same data directory serves: " + banner);
                    codes.add("served");
                    break;   // repeating an attack that already failed adds only waiting
                }
                int code = second.awaitExit(Duration.ofSeconds(30));
                codes.add(Integer.toString(code));
                String stderr = second.stderr();
                first.expect("the second broker exits non-zero", () -> assertNotEquals(0, code, stderr));
                first.expect("its stderr names the data directory", () -> assertTrue(
                        stderr.contains(first.data.toString())
                                || stderr.contains(first.data.toRealPath().toString()),
                        "names " + first.data + ":\n" + stderr));
                first.expect("its stderr names the holder's pid " + holder, () -> assertTrue(
                        stderr.matches("(?s).*\\b" + holder + "\\b.*"), "names pid " + holder + ":\n" + stderr));
                if (i == 0) {
                    System.out.printf("DataDirLockIT: the second broker exits %d: %s%n", code, stderr.strip());
                }
            } finally {
                second.kill();
            }
            if (first.failedSoFar()) {
                break;   // repeating an attack that already failed adds only waiting
            }
        }
        first.finish("1 data-dir lock (second broker)", codes.size(), "second broker exit codes " + codes);
    }

    /** The same operator, sending SIGHUP to reload a broker that has no TLS files or auth file. */
    @Test
    void aSighupWithNothingToReloadLeavesTheBrokerServing() throws Exception {
        HostileBroker broker = start();
        broker.startBackground();
        for (int i = 0; i < 3; i++) {
            new ProcessBuilder("kill", "-HUP", Long.toString(broker.process.pid())).start().waitFor();
        }
        broker.process.awaitOutput("SIGHUP: nothing to reload", Duration.ofSeconds(30));
        broker.finish("1 data-dir lock (SIGHUP, nothing to reload)", 3, "the broker goes on");
    }
}
