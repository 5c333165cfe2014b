package io.sluice.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/** The figures of one run: printed as a table, written as JSON. */
final class Report {

    /** One broker start; scenario 0 is the one started without the AOT cache, only to time its start. */
    record BrokerRun(int scenario, BrokerProcess.Startup startup, BrokerProcess.Stopped stopped, String log) {
    }

    private final Map<String, Object> header;
    private final List<Row> rows;
    private final List<BrokerRun> brokers;

    Report(Map<String, Object> header, List<Row> rows, List<BrokerRun> brokers) {
        this.header = header;
        this.rows = rows;
        this.brokers = brokers;
    }

    // ---- the table ----

    private record Column(String title, int width, Function<Row, String> cell) {
    }

    private static final List<Column> COLUMNS = List.of(
            new Column("#", 2, r -> Integer.toString(r.scenario())),
            new Column("run", -46, Row::name),
            new Column("msg/s", 9, r -> fmt(r.perSecond(), "%,.0f")),
            new Column("p50 ms", 8, r -> ms(r, r.latency().p50())),
            new Column("p99 ms", 8, r -> ms(r, r.latency().p99())),
            new Column("p99.9 ms", 8, r -> ms(r, r.latency().p999())),
            new Column("err", 4, r -> r.perSecond() == null ? "-" : Long.toString(r.errors())),
            new Column("commit/s", 8, r -> fmt(r.resources().commitsPerSecond(), "%,.0f")),
            new Column("msg/cmt", 7, r -> fmt(r.resources().messagesPerCommit(), "%,.1f")),
            new Column("RSS MB", 6, r -> mb(r.resources().rssPeakKb())),
            new Column("heap MB", 7, r -> mb(r.resources().heapAfterGcKb())),
            new Column("thr", 4, r -> r.resources().threadsPeak() == null ? "-"
                    : Integer.toString(r.resources().threadsPeak())),
            new Column("srv CPU%", 8, r -> fmt(r.resources().brokerCpu(), "%.0f")),
            new Column("cli CPU%", 8, r -> fmt(r.resources().clientCpu(), "%.0f")));

    private static String ms(Row r, double value) {
        if (r.latency().count() == 0) {
            return "-";
        }
        return String.format(Locale.ROOT, value < 100 ? "%.2f" : "%.0f", value);
    }

    private static String fmt(Double value, String format) {
        return value == null ? "-" : String.format(Locale.ROOT, format, value);
    }

    private static String mb(Long kb) {
        return kb == null ? "-" : String.format(Locale.ROOT, "%.0f", kb / 1024.0);
    }

    void print(PrintStream out) {
        out.println();
        out.println(header.get("title"));
        out.println(header.get("settings"));
        out.println();
        out.println(line(c -> c.title()));
        for (Row r : rows) {
            out.println(line(c -> c.cell().apply(r)));
            for (String note : r.notes()) {
                out.println("      - " + note);
            }
        }
        out.println();
        if (!brokers.isEmpty()) {
            out.println("7  broker starts (from spawning the JVM) and stops:");
            for (BrokerRun b : brokers) {
                out.println("   " + startLine(b));
                BrokerProcess.Stopped s = b.stopped();
                if (s != null && s.troubleLines() > 0) {
                    out.println("      - its log has " + s.troubleLines() + " WARN/ERROR/exception lines (" + b.log()
                            + "), first:");
                    for (String line : s.trouble()) {
                        out.println("          " + line);
                    }
                }
            }
            out.println("7  " + resourceSummary());
        }
    }

    private static String line(Function<Column, String> cell) {
        var b = new StringBuilder();
        for (Column c : COLUMNS) {
            String text = cell.apply(c);
            int width = Math.abs(c.width());
            if (text.length() > width) {
                text = text.substring(0, width);
            }
            b.append(c.width() < 0 ? String.format("%-" + width + "s", text) : String.format("%" + width + "s", text))
                    .append("  ");
        }
        return b.toString().stripTrailing();
    }

    private static String startLine(BrokerRun b) {
        BrokerProcess.Startup st = b.startup();
        String start = st == null ? "did not start"
                : String.format(Locale.ROOT, "banner %.0f ms, first health check %.0f ms, first publish %.0f ms%s",
                        st.bannerMillis(), st.healthMillis(), st.publishMillis(),
                        st.reportedMillis() == null ? ""
                                : " (the broker says it started in " + st.reportedMillis() + " ms)");
        BrokerProcess.Stopped s = b.stopped();
        String stop = s == null ? "" : s.exitCode() == null
                ? String.format(Locale.ROOT, "; killed after %.0f ms without exiting on SIGTERM", s.stopMillis())
                : String.format(Locale.ROOT, "; SIGTERM to exit %.0f ms, exit code %d", s.stopMillis(), s.exitCode());
        return (b.scenario() == 0 ? "plain java -jar, without the AOT cache (started only to time this)"
                : "scenario " + b.scenario()) + ": " + start + stop;
    }

    private String resourceSummary() {
        long rss = rows.stream().map(r -> r.resources().rssPeakKb()).filter(v -> v != null)
                .mapToLong(v -> v).max().orElse(-1);
        long heap = rows.stream().map(r -> r.resources().heapAfterGcKb()).filter(v -> v != null)
                .mapToLong(v -> v).max().orElse(-1);
        int threads = rows.stream().map(r -> r.resources().threadsPeak()).filter(v -> v != null)
                .mapToInt(v -> v).max().orElse(-1);
        double firstRpc = brokers.stream().filter(b -> b.startup() != null && b.scenario() != 0)
                .mapToDouble(b -> b.startup().healthMillis()).max().orElse(-1);
        return String.format(Locale.ROOT, "over all runs: RSS peak %s MB, heap after GC at most %s MB, "
                        + "threads at most %s, slowest start to first served RPC %s ms",
                rss < 0 ? "-" : String.format(Locale.ROOT, "%.0f", rss / 1024.0),
                heap < 0 ? "-" : String.format(Locale.ROOT, "%.0f", heap / 1024.0),
                threads < 0 ? "-" : Integer.toString(threads),
                firstRpc < 0 ? "-" : String.format(Locale.ROOT, "%.0f", firstRpc));
    }

    // ---- JSON ----

    String json() {
        Map<String, Object> root = new LinkedHashMap<>(header);
        List<Object> rowList = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("scenario", r.scenario());
            m.put("name", r.name());
            m.put("msg_per_s", r.perSecond());
            m.put("messages", r.messages());
            m.put("seconds", r.seconds());
            if (r.latency().count() > 0) {
                Map<String, Object> lat = new LinkedHashMap<>();
                lat.put("samples", r.latency().count());
                lat.put("p50", r.latency().p50());
                lat.put("p99", r.latency().p99());
                lat.put("p99_9", r.latency().p999());
                lat.put("max", r.latency().max());
                m.put("latency_ms", lat);
            }
            m.put("errors", r.errors());
            Resources res = r.resources();
            m.put("commits_per_s", res.commitsPerSecond());
            m.put("messages_per_commit", res.messagesPerCommit());
            m.put("commit_mean_ms", res.commitMeanMillis());
            m.put("rss_peak_mb", res.rssPeakKb() == null ? null : res.rssPeakKb() / 1024.0);
            m.put("heap_after_gc_mb", res.heapAfterGcKb() == null ? null : res.heapAfterGcKb() / 1024.0);
            m.put("threads_peak", res.threadsPeak());
            m.put("broker_cpu_pct", res.brokerCpu());
            m.put("client_cpu_pct", res.clientCpu());
            m.put("notes", r.notes());
            rowList.add(m);
        }
        root.put("rows", rowList);
        List<Object> brokerList = new ArrayList<>();
        for (BrokerRun b : brokers) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("scenario", b.scenario());
            if (b.startup() != null) {
                m.put("start_to_banner_ms", b.startup().bannerMillis());
                m.put("start_to_first_health_check_ms", b.startup().healthMillis());
                m.put("start_to_first_publish_ms", b.startup().publishMillis());
                m.put("broker_reported_start_ms", b.startup().reportedMillis());
            }
            if (b.stopped() != null) {
                m.put("exit_code", b.stopped().exitCode());
                m.put("sigterm_to_exit_ms", b.stopped().stopMillis());
                m.put("log_trouble_lines", b.stopped().troubleLines());
                m.put("log_trouble_first", b.stopped().trouble());
            }
            m.put("log", b.log());
            brokerList.add(m);
        }
        root.put("brokers", brokerList);
        return Json.render(root);
    }
}
