package io.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code make bench}: the load generator. For each chosen scenario it starts a broker from the jar
 * (fresh data directory, {@code -Xmx128m}) or uses the {@code --target}, runs the scenario, samples the
 * broker's resource use, stops it; then prints the table and writes the same figures as JSON to
 * {@code target/bench/bench-<time>.json} and {@code target/bench/latest.json}. Exit code 0 when every
 * run completed without errors (a server without PublishStream is not an error), 1 otherwise, 2 for a
 * bad command line.
 */
public final class Bench {
    private static final DateTimeFormatter RUN_ID = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private final BenchOptions options;
    private final String runId = LocalDateTime.now(ZoneOffset.UTC).format(RUN_ID);
    private final List<Row> rows = new ArrayList<>();
    private final List<Report.BrokerRun> brokers = new ArrayList<>();
    private final AtomicReference<BrokerProcess> running = new AtomicReference<>();
    private int failures;
    private boolean targetWarmed;   // a --target is warmed once, before its first scenario

    private Bench(BenchOptions options) {
        this.options = options;
    }

    public static void main(String[] args) {
        BenchOptions options;
        try {
            options = BenchOptions.parse(args);
        } catch (BenchOptions.Usage e) {
            if (e.getMessage() != null) {
                System.err.println("bench: " + e.getMessage());
            }
            System.err.print(BenchOptions.USAGE);
            System.exit(e.getMessage() == null ? 0 : 2);
            return;
        }
        System.exit(new Bench(options).run());
    }

    private int run() {
        Thread hook = new Thread(() -> {
            BrokerProcess b = running.get();
            if (b != null) {
                b.stop();   // interrupted: never leave a broker behind
            }
            // A broker still starting (spawned, not yet serving) is not "running" yet: SIGTERM every
            // child process left, so an interrupted run leaves none behind either.
            ProcessHandle.current().children().forEach(ProcessHandle::destroy);
        }, "bench-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        ClientWarmup warm = ClientWarmup.run();
        try {
            for (int scenario : options.scenarios()) {
                if (Thread.currentThread().isInterrupted()) {
                    break;
                }
                if (scenario == 9) {   // no Sluice broker: NATS JetStream, started by the scenario
                    progress("scenario 9: " + title(9));
                    if (!NatsScenario.run(options, this::done)) {
                        failures++;
                    }
                    continue;
                }
                if (scenario == PostgresScenario.SCENARIO) {   // brokers on a PostgreSQL the scenario starts
                    progress("scenario " + scenario + ": " + title(scenario));
                    if (!PostgresScenario.run(options, options.out().resolve("logs"), runId + "-s" + scenario,
                            this::done)) {
                        failures++;
                    }
                    continue;
                }
                runScenario(scenario);
            }
        } finally {
            warm.close();
        }
        if (options.target() == null && options.brokerJvmArgs().stream().anyMatch(a -> a.startsWith(AOT_CACHE))
                && !Thread.currentThread().isInterrupted()) {
            timePlainStart();
        }
        running.set(null);
        Report report = new Report(header(), rows, brokers);
        report.print(System.out);
        try {
            Path file = write(report);
            System.out.println("JSON: " + file + " (and " + options.out().resolve("latest.json") + ")");
        } catch (IOException e) {
            System.err.println("bench: cannot write the JSON to " + options.out() + ": " + e.getMessage());
            failures++;
        }
        boolean errors = rows.stream().anyMatch(r -> r.errors() > 0);
        return failures > 0 || errors ? 1 : 0;
    }

    private static final String AOT_CACHE = "-XX:AOTCache=";

    /**
     * The brokers above started with the JDK's AOT cache, as {@code make run} starts one; this starts
     * one more without it (a plain {@code java -jar}), only to time its start, and reports it apart.
     */
    private void timePlainStart() {
        progress("start-up without the AOT cache (plain java -jar)");
        var plain = options.withBrokerJvmArgs(options.brokerJvmArgs().stream()
                .filter(a -> !a.startsWith(AOT_CACHE)).toList());
        try {
            BrokerProcess broker = BrokerProcess.start(plain, runId + "-plain", options.out().resolve("logs"));
            running.set(broker);
            brokers.add(new Report.BrokerRun(0, broker.startup(), broker.stop(), broker.log().toString()));
        } catch (IOException | RuntimeException e) {
            failures++;
            progress("  the broker did not start without the AOT cache: " + e.getMessage());
        }
    }

    private void runScenario(int scenario) {
        progress("scenario " + scenario + ": " + title(scenario));
        BrokerProcess broker = null;
        Report.BrokerRun brokerRun = null;
        int before = rows.size();
        try {
            String host;
            int port;
            String metricsUrl;
            if (options.target() == null) {
                broker = BrokerProcess.start(options, runId + "-s" + scenario, options.out().resolve("logs"));
                running.set(broker);
                host = BrokerProcess.HOST;
                port = broker.port();
                metricsUrl = broker.metricsUrl();
            } else {
                int colon = options.target().lastIndexOf(':');
                host = options.target().substring(0, colon);
                port = Integer.parseInt(options.target().substring(colon + 1));
                metricsUrl = options.metricsUrl();
            }
            try (var clients = new Clients(host, port, options.channels());
                 var probe = broker == null ? new Probe(metricsUrl, null, null)
                         : new Probe(metricsUrl, broker.handle(), broker.jcmd())) {
                var session = new Session(options, clients, probe, "bench." + runId + ".", this::done,
                        host + ":" + port);
                if (broker != null || !targetWarmed) {
                    targetWarmed = true;
                    String warm = BrokerWarmup.run(session);
                    if (warm != null) {
                        progress("  the broker's warm-up did not complete: " + warm);
                    }
                }
                switch (scenario) {
                    case 1 -> PublishScenarios.unary(session);
                    case 2 -> PublishScenarios.batch(session);
                    case 3 -> StreamScenario.run(session);
                    case 4 -> EndToEndScenario.run(session);
                    case 5 -> FixedRateScenario.alone(session);
                    case 6 -> FixedRateScenario.withSlowConsumer(session);
                    case 8 -> ClientScenarios.run(session);
                    case 10 -> SecurityScenario.run(session, options.out().resolve("logs"), runId + "-s10");
                    case 11 -> GuaranteeScenarios.dedup(session);
                    case 12 -> GuaranteeScenarios.retention(session);
                    case 13 -> SharedScenario.drains(session);
                    case 14 -> SharedScenario.redelivery(session);
                    default -> throw new IllegalArgumentException("no scenario " + scenario);
                }
            }
        } catch (IOException | RuntimeException e) {
            failures++;
            done(Row.without(scenario, title(scenario), "failed: " + (e.getMessage() != null ? e.getMessage() : e)));
        } catch (InterruptedException e) {
            failures++;
            Thread.currentThread().interrupt();
            done(Row.without(scenario, title(scenario), "interrupted"));
        } finally {
            if (broker != null) {
                boolean died = !broker.alive();
                List<String> tail = died ? broker.tail(10) : List.of();
                BrokerProcess.Stopped stopped = broker.stop();
                running.set(null);
                brokerRun = new Report.BrokerRun(scenario, broker.startup(), stopped, broker.log().toString());
                if (died) {
                    failures++;
                    List<String> notes = new ArrayList<>();
                    notes.add("the broker exited during the scenario, exit code " + stopped.exitCode()
                            + "; its stderr ends with:");
                    tail.forEach(line -> notes.add("  " + line));
                    rows.add(new Row(scenario, "broker crashed", null, 0, 0, Latency.Summary.NONE, 0,
                            Resources.NONE, notes));
                }
            }
        }
        if (brokerRun != null) {
            brokers.add(brokerRun);
        } else if (options.target() == null && rows.size() > before) {
            brokers.add(new Report.BrokerRun(scenario, null, null, options.out().resolve("logs")
                    .resolve(runId + "-s" + scenario + ".log").toString()));
        }
    }

    private Row done(Row row) {
        rows.add(row);
        String figures = row.perSecond() == null ? String.join("; ", row.notes())
                : String.format(Locale.ROOT, "%,.0f msg/s%s%s", row.perSecond(),
                        row.latency().count() > 0
                                ? String.format(Locale.ROOT, ", p99 %.2f ms", row.latency().p99()) : "",
                        row.errors() > 0 ? ", " + row.errors() + " errors" : "");
        progress("  " + row.name() + ": " + figures);
        return row;
    }

    private static void progress(String line) {
        System.err.println("[bench] " + line);
    }

    static String title(int scenario) {
        return switch (scenario) {
            case 1 -> "unary Publish";
            case 2 -> "BatchPublish";
            case 3 -> "PublishStream";
            case 4 -> "end to end";
            case 5 -> "fixed rate, Publish and PublishStream";
            case 6 -> "fixed rate with a consumer at 1 credit/s";
            case 8 -> "the Java client as an application uses it";
            case 9 -> "the same patterns against NATS JetStream";
            case 10 -> "TLS with a bearer token against plaintext";
            case 11 -> "Publish with dedup ids against without";
            case 12 -> "Publish into a DISCARD_OLD topic at its limit, and the database size under churn";
            case 13 -> "shared groups of 1, 4 and 16 streams draining a backlog, an ack per message";
            case 14 -> "redelivery to a group that nacks everything beside a draining group";
            case 15 -> PostgresScenario.TITLE;
            default -> "scenario " + scenario;
        };
    }

    private Map<String, Object> header() {
        Map<String, Object> h = new LinkedHashMap<>();
        String broker = options.target() != null ? "broker at " + options.target()
                : "broker from " + options.jar() + " with -Xmx128m" + (options.brokerJvmArgs().isEmpty() ? ""
                        : " " + String.join(" ", options.brokerJvmArgs()))
                        + (options.brokerArgs().isEmpty() ? "" : ", serve " + String.join(" ", options.brokerArgs()));
        String fs = options.target() != null ? "the target's disk" : fileSystem(options.dataRoot());
        h.put("title", String.format(Locale.ROOT, "Sluice bench %s UTC, %s; java %s, %d CPUs; data on %s; git %s",
                runId, broker, System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(), fs,
                git()));
        h.put("settings", String.format(Locale.ROOT, "each new broker warmed up for %s; runs of %s after %s warmup; "
                        + "fixed rate %,d msg/s for %s after %s; backlog %,d; %d client channels%s",
                human(options.brokerWarmup()) + (options.target() != null ? " (the --target, once)" : ""),
                human(options.duration()), human(options.warmup()), options.rate(), human(options.fixedDuration()),
                human(options.fixedWarmup()), options.backlog(), options.channels(),
                options.quick() ? "; --quick (smoke test: figures are indicative only)" : ""));
        h.put("run", runId);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("scenarios", new ArrayList<>(options.scenarios()));
        o.put("duration_s", options.duration().toMillis() / 1000.0);
        o.put("warmup_s", options.warmup().toMillis() / 1000.0);
        o.put("broker_warmup_s", options.brokerWarmup().toMillis() / 1000.0);
        o.put("fixed_duration_s", options.fixedDuration().toMillis() / 1000.0);
        o.put("fixed_warmup_s", options.fixedWarmup().toMillis() / 1000.0);
        o.put("rate", options.rate());
        o.put("backlog", options.backlog());
        o.put("quick", options.quick());
        o.put("target", options.target());
        o.put("jar", options.target() == null ? options.jar().toString() : null);
        o.put("channels", options.channels());
        o.put("broker_args", options.brokerArgs());
        o.put("broker_jvm_args", options.brokerJvmArgs());
        h.put("options", o);
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("java", System.getProperty("java.version"));
        env.put("broker_java", options.java().toString());
        env.put("cpus", Runtime.getRuntime().availableProcessors());
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        env.put("data_filesystem", fs);
        env.put("git", git());
        h.put("environment", env);
        return h;
    }

    static String human(java.time.Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    private static String fileSystem(Path dir) {
        try {
            Files.createDirectories(dir);
            String type = Files.getFileStore(dir).type();
            return type.equals("tmpfs") ? "tmpfs (no real fsync: use --data-root on a disk)" : type;
        } catch (IOException e) {
            return "?";
        }
    }

    private static String git() {
        String out = Exec.run(5, List.of("git", "describe", "--always", "--dirty"));
        return out == null ? "?" : out.strip();
    }

    private Path write(Report report) throws IOException {
        Files.createDirectories(options.out());
        Path file = options.out().resolve("bench-" + runId + ".json");
        Files.writeString(file, report.json());
        Files.copy(file, options.out().resolve("latest.json"), StandardCopyOption.REPLACE_EXISTING);
        return file;
    }
}
