package io.sluice.hostile;

import io.sluice.Figures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The hostile-client section of the figures: one row per case, printed once when the test run
 * ends (this extension closes with the run's root context), whether the case passed or not.
 * Figures are printed, never asserted.
 */
public final class HostileFigures implements BeforeAllCallback {
    /**
     * One case's outcome: hostile requests tried, whether the broker was alive afterwards, its
     * peak RSS, acknowledged messages in the ledger and how many of them were lost (-1: not
     * known), the case's own figure of interest, and "ok" or "FAILED".
     */
    record Row(String name, long tried, boolean alive, long rssMaxMb, long acknowledged, long lost, String figure,
               String result) {
    }

    private static final List<Row> ROWS = new ArrayList<>();   // guarded by HostileFigures.class

    static synchronized void record(Row row) {
        ROWS.add(row);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        Figures.printAtEnd(context, "hostile clients", HostileFigures::render);
    }

    static synchronized String render() {
        String format = "| %-34s | %10s | %5s | %10s | %12s | %4s | %-60s | %-6s |%n";
        var b = new StringBuilder();
        b.append(String.format("%nSluice hostile clients (%s; broker -Xmx128m with scripts/jvm-opts, RSS bound %d MiB)%n",
                Figures.SOAK ? "make soak" : "make test", HostileBroker.RSS_BOUND_MB));
        b.append(String.format(format, "case", "tried", "alive", "RSS max MB", "acknowledged", "lost",
                "figure", "checks"));
        b.append(String.format(format, "-".repeat(34), "-".repeat(10), "-".repeat(5), "-".repeat(10), "-".repeat(12),
                "-".repeat(4), "-".repeat(60), "-".repeat(6)));
        for (Row r : ROWS) {
            b.append(String.format(format, r.name(), r.tried(), r.alive() ? "yes" : "NO", r.rssMaxMb(),
                    r.acknowledged(), r.lost() < 0 ? "?" : Long.toString(r.lost()), r.figure(), r.result()));
        }
        b.append("tried = hostile requests sent; alive = the broker process ran after the attack; RSS max = its ")
                .append("VmHWM; lost = acknowledged messages missing afterwards (? = could not be read)")
                .append(System.lineSeparator());
        return b.toString();
    }
}
