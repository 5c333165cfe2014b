package io.sluice;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The figures of the fault suite: each test adds to the row of its area, and the table is printed
 * once, when the test run ends (this extension closes with the run's root context). Figures are
 * printed, never asserted. {@code -Dsluice.soak=true} (set by {@code make soak}) scales the suite up.
 */
public final class Figures implements BeforeAllCallback {
    /** True under {@code make soak}. */
    public static final boolean SOAK = Boolean.getBoolean("sluice.soak");

    private static final Map<String, Row> ROWS = new LinkedHashMap<>();   // guarded by Figures.class

    /** {@code fast} in {@code make test}, {@code soak} in {@code make soak}. */
    public static int scaled(int fast, int soak) {
        return SOAK ? soak : fast;
    }

    /** The row of {@code area}, created on first use. */
    public static synchronized Row row(String area) {
        return ROWS.computeIfAbsent(area, Row::new);
    }

    /** One area's counts; every method adds. Thread-safe. */
    public static final class Row {
        private final String area;
        private long cycles;
        private long acknowledged;
        private long lost;
        private long corruptions;
        private long inputs;
        private long crashes;
        private final List<Long> recoveryMillis = new ArrayList<>();
        private final List<Long> stopMillis = new ArrayList<>();

        private Row(String area) {
            this.area = area;
        }

        public Row cycles(long n) {
            synchronized (Figures.class) {
                cycles += n;
            }
            return this;
        }

        public Row acknowledged(long n) {
            synchronized (Figures.class) {
                acknowledged += n;
            }
            return this;
        }

        public Row lost(long n) {
            synchronized (Figures.class) {
                lost += n;
            }
            return this;
        }

        /** Damage the broker detected and reported (a refusal to start, a DATA_LOSS). */
        public Row corruptions(long n) {
            synchronized (Figures.class) {
                corruptions += n;
            }
            return this;
        }

        /** Bad or random inputs sent. */
        public Row inputs(long n) {
            synchronized (Figures.class) {
                inputs += n;
            }
            return this;
        }

        /** Times the broker died or stopped serving when it should not have. */
        public Row crashes(long n) {
            synchronized (Figures.class) {
                crashes += n;
            }
            return this;
        }

        /** Time from starting the broker (process spawn) to its first served publish. */
        public Row recovery(long millis) {
            synchronized (Figures.class) {
                recoveryMillis.add(millis);
            }
            return this;
        }

        /** Time from SIGTERM to the broker's exit. */
        public Row stop(long millis) {
            synchronized (Figures.class) {
                stopMillis.add(millis);
            }
            return this;
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        printAtEnd(context, "fault suite", Figures::render);
    }

    /** Prints {@code render}'s table once, when the test run's root context closes (after the last test). */
    public static void printAtEnd(ExtensionContext context, String table, java.util.function.Supplier<String> render) {
        AutoCloseable printer = () -> {
            System.out.println(render.get());
            System.out.flush();
        };
        context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent("table: " + table, k -> printer, AutoCloseable.class);
    }

    static synchronized String render() {
        String format = "| %-40s | %6s | %12s | %5s | %11s | %8s | %7s | %-28s | %-15s |%n";
        var b = new StringBuilder();
        b.append(String.format("%nSluice fault suite (%s)%n", SOAK ? "make soak" : "make test"));
        b.append(String.format(format, "area", "cycles", "acknowledged", "lost", "corruptions", "inputs",
                "crashes", "start to 1st publish ms", "SIGTERM to exit"));
        b.append(String.format(format, "-".repeat(40), "-".repeat(6), "-".repeat(12), "-".repeat(5), "-".repeat(11),
                "-".repeat(8), "-".repeat(7), "-".repeat(28), "-".repeat(15)));
        for (Row r : ROWS.values()) {
            b.append(String.format(format, r.area, r.cycles, r.acknowledged, r.lost, r.corruptions, r.inputs,
                    r.crashes, spread(r.recoveryMillis), spread(r.stopMillis)));
        }
        b.append("lost = acknowledged messages missing afterwards (rows marked \"limit\" show what SQLite drops ")
                .append("undetectably, see README); corruptions = damage the broker detected and reported;")
                .append(System.lineSeparator())
                .append("crashes = times the broker died or stopped answering health checks unplanned (each also ")
                .append("fails its test); times are min / median / max (n)").append(System.lineSeparator());
        return b.toString();
    }

    /** min / median / max, or "-". */
    static String spread(List<Long> values) {
        if (values.isEmpty()) {
            return "-";
        }
        var sorted = values.stream().sorted().toList();
        if (sorted.size() == 1) {
            return sorted.getFirst().toString();
        }
        return sorted.getFirst() + " / " + sorted.get(sorted.size() / 2) + " / " + sorted.getLast()
                + " (n=" + sorted.size() + ")";
    }
}
