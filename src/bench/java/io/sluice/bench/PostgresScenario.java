package io.sluice.bench;

import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.PublishRequest;
import io.sluice.store.postgres.PostgresServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Scenario 15: the PostgreSQL backend (docs/postgres.md). A PostgreSQL server from the installed
 * package (a cluster in a temporary directory on a loopback port, fsync and synchronous_commit on, as
 * the tests start one), then:
 * <ol>
 * <li>the database's own ceiling: pgbench, {@value #PGBENCH_CLIENTS} clients, each transaction one
 * INSERT of 100 rows of 100 B into a table with a primary key, committed with synchronous_commit on;
 * rows per second;</li>
 * <li>one broker on the database: unary Publish (64 publishers), BatchPublish of 100 (8 batchers, as
 * many as the ceiling's clients, so the broker has as many rows outstanding as pgbench),
 * PublishStream (window 1,024), and the drain of a backlog (as scenario 4, its live row included);
 * the batch and stream rows note their fraction of the ceiling (the target: 0.7 or more);</li>
 * <li>the aggregate of 1, 2 and 3 brokers on one database, each with 8 batchers of BatchPublish of
 * 100 on one topic per broker, the brokers' commits ordered by the database.</li>
 * </ol>
 * Skipped with a row saying why where the PostgreSQL server binaries are missing.
 */
final class PostgresScenario {
    static final int SCENARIO = 15;
    static final String TITLE = "the PostgreSQL backend, next to a pgbench ceiling";
    private static final int PGBENCH_CLIENTS = 8;
    private static final int PUBLISHERS = 64;
    private static final int BATCH = 100;
    private static final int BATCHERS = 8;
    private static final int WINDOW = 1024;
    private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+) \\(without initial connection time\\)");

    private PostgresScenario() {
    }

    /** Runs the rows into {@code sink}; false when the scenario failed (a skip is not a failure). */
    static boolean run(BenchOptions options, Path logDir, String label, UnaryOperator<Row> sink) {
        PostgresServer server;
        try {
            server = PostgresServer.startPrivate();
        } catch (RuntimeException e) {
            sink.apply(Row.without(SCENARIO, TITLE, "skipped: no PostgreSQL server could be started here ("
                    + e.getMessage() + "); install Debian's postgresql package"));
            return true;
        }
        Path dir = null;
        try {
            Files.createDirectories(options.dataRoot());
            dir = Files.createTempDirectory(options.dataRoot(), label + "-pg-");
            Path password = dir.resolve("password");
            Files.writeString(password, PostgresServer.PASSWORD);
            Double ceiling = ceiling(server, options, dir, sink);
            oneBroker(server, options, password, logDir, label, ceiling, sink);
            for (int brokers = 1; brokers <= 3; brokers++) {
                aggregate(server, options, password, logDir, label, brokers, ceiling, sink);
            }
            return true;
        } catch (IOException | RuntimeException | SQLException e) {
            sink.apply(Row.without(SCENARIO, TITLE, "failed: " + e));
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sink.apply(Row.without(SCENARIO, TITLE, "interrupted"));
            return false;
        } finally {
            server.close();
            delete(dir);
        }
    }

    /** pgbench's rows per second, or null (with a row saying why) when it could not run. */
    private static Double ceiling(PostgresServer server, BenchOptions options, Path dir, UnaryOperator<Row> sink)
            throws IOException, InterruptedException, SQLException {
        String name = "pgbench ceiling: INSERT " + BATCH + " rows of 100 B per transaction, " + PGBENCH_CLIENTS
                + " clients, synchronous_commit on";
        Path pgbench = pgbench();
        if (pgbench == null) {
            sink.apply(Row.without(SCENARIO, name, "skipped: no pgbench binary (Debian's postgresql-contrib or "
                    + "postgresql package)"));
            return null;
        }
        String durability;
        try (var c = server.connectToDatabase(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS bench_ceiling");
            st.execute("CREATE TABLE bench_ceiling (seq bigserial PRIMARY KEY, topic_id bigint NOT NULL, "
                    + "ts bigint NOT NULL, payload bytea NOT NULL)");
            try (var rs = st.executeQuery("SELECT current_setting('fsync'), current_setting('wal_sync_method')")) {
                rs.next();
                durability = "server: fsync " + rs.getString(1) + " (" + rs.getString(2) + ")";
            }
        }
        Path script = dir.resolve("ceiling.sql");
        Files.writeString(script, "INSERT INTO bench_ceiling (topic_id, ts, payload) SELECT 1, 0, "
                + "decode(repeat('ab', 100), 'hex') FROM generate_series(1, " + BATCH + ");\n");
        long seconds = Math.max(1, options.duration().toSeconds());
        var command = List.of(pgbench.toString(), "-n", "-M", "prepared", "-f", script.toString(),
                "-c", Integer.toString(PGBENCH_CLIENTS), "-j", "2", "-T", Long.toString(seconds),
                "-h", "127.0.0.1", "-p", Integer.toString(server.port()), "-U", PostgresServer.USER,
                PostgresServer.DATABASE);
        var builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("PGPASSWORD", PostgresServer.PASSWORD);
        // The ceiling commits as the brokers do, whatever the server's default.
        builder.environment().put("PGOPTIONS", "-c synchronous_commit=on");
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(seconds + 60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            sink.apply(Row.without(SCENARIO, name, "pgbench did not finish"));
            return null;
        }
        Matcher m = TPS.matcher(out);
        if (p.exitValue() != 0 || !m.find()) {
            sink.apply(Row.without(SCENARIO, name, "pgbench failed: " + out.strip()));
            return null;
        }
        double rows = Double.parseDouble(m.group(1)) * BATCH;
        sink.apply(new Row(SCENARIO, name, rows, Math.round(rows * seconds), seconds, Latency.Summary.NONE, 0,
                Resources.NONE, List.of("rows/s: transactions/s x " + BATCH, durability
                        + "; pgbench sessions: synchronous_commit on")));
        return rows;
    }

    /** The four SQLite scenarios' rows, on one broker over the database. */
    private static void oneBroker(PostgresServer server, BenchOptions options, Path password, Path logDir, String label,
                                  Double ceiling, UnaryOperator<Row> sink) throws IOException, InterruptedException {
        String url = server.url(server.freshSchema());
        List<BrokerProcess> brokers = start(options, url, password, logDir, label + "-pg1", 1);
        try (var clients = new Clients(BrokerProcess.HOST, ports(brokers), options.channels());
             var probe = new Probe(brokers.getFirst().metricsUrl(), brokers.getFirst().handle(),
                     brokers.getFirst().jcmd())) {
            var s = new Session(options, clients, probe, "bench.pg.", row -> sink.apply(relabel(row)),
                    BrokerProcess.HOST + ":" + brokers.getFirst().port());
            String warm = BrokerWarmup.run(s);
            if (warm != null) {
                sink.apply(Row.without(SCENARIO, "PostgreSQL rows", "the broker's warm-up did not complete: " + warm));
                return;
            }
            var request = PublishRequest.newBuilder().setTopic(s.topic("publish"))
                    .setPayload(PublishScenarios.payload(100)).build();
            s.done(Row.of(SCENARIO, "PostgreSQL: Publish 100 B, " + PUBLISHERS + " publishers", ClosedLoop.run(s,
                    PUBLISHERS, (w, done) -> s.clients().stub(w).publish(request, new Answer<>(done, 1)))));
            BatchPublishRequest batch = PublishScenarios.batchRequest(s.topic("batch"), BATCH, 100);
            s.done(ofCeiling(Row.of(SCENARIO, "PostgreSQL: BatchPublish " + BATCH + " x 100 B, " + BATCHERS
                    + " batchers", ClosedLoop.run(s, BATCHERS,
                    (w, done) -> s.clients().stub(w).batchPublish(batch, new Answer<>(done, BATCH)))), ceiling));
            Row stream = StreamScenario.measureOne(s, s.topic("stream"), WINDOW,
                    "PostgreSQL: PublishStream 100 B, window " + WINDOW);
            s.done(ofCeiling(stream, ceiling));
            EndToEndScenario.run(s);
        } finally {
            brokers.forEach(BrokerProcess::stop);
        }
    }

    /** BatchPublish by 4 batchers per broker, each broker's batchers on a topic of their own. */
    private static void aggregate(PostgresServer server, BenchOptions options, Path password, Path logDir,
                                  String label, int count, Double ceiling, UnaryOperator<Row> sink)
            throws IOException, InterruptedException {
        String url = server.url(server.freshSchema());
        List<BrokerProcess> brokers = start(options, url, password, logDir, label + "-pg" + count + "x", count);
        try (var clients = new Clients(BrokerProcess.HOST, ports(brokers), count * BATCHERS);
             var probe = new Probe(brokers.getFirst().metricsUrl(), brokers.getFirst().handle(),
                     brokers.getFirst().jcmd())) {
            var s = new Session(options, clients, probe, "bench.pg" + count + ".", sink,
                    BrokerProcess.HOST + ":" + brokers.getFirst().port());
            for (int b = 0; b < count; b++) {   // each broker warmed, as a lone broker is
                try (var one = new Clients(BrokerProcess.HOST, brokers.get(b).port(), options.channels())) {
                    String warm = BrokerWarmup.run(new Session(options, one, probe, "bench.pg" + count + ".w" + b + ".",
                            sink, BrokerProcess.HOST + ":" + brokers.get(b).port()));
                    if (warm != null) {
                        sink.apply(Row.without(SCENARIO, count + " brokers", "a broker's warm-up did not complete: "
                                + warm));
                        return;
                    }
                }
            }
            var requests = new ArrayList<BatchPublishRequest>();
            for (int b = 0; b < count; b++) {
                requests.add(PublishScenarios.batchRequest(s.topic("batch.b" + b), BATCH, 100));
            }
            // Worker w uses channel w, which goes to broker w % count: each broker gets BATCHERS workers.
            Measured m = ClosedLoop.run(s, count * BATCHERS, (w, done) -> s.clients().stub(w)
                    .batchPublish(requests.get(w % count), new Answer<>(done, BATCH)));
            s.done(ofCeiling(Row.of(SCENARIO, "PostgreSQL: " + count + " broker" + (count == 1 ? "" : "s")
                    + " on one database, BatchPublish " + BATCH + " x 100 B, " + BATCHERS + " batchers each", m),
                    ceiling));
        } finally {
            brokers.forEach(BrokerProcess::stop);
        }
    }

    private static List<BrokerProcess> start(BenchOptions options, String url, Path password, Path logDir,
                                             String label, int count) throws IOException {
        var on = options.withMoreBrokerArgs(List.of("--database-url", url, "--database-password-file",
                password.toString()));
        var started = new ArrayList<BrokerProcess>();
        try {
            for (int i = 0; i < count; i++) {
                started.add(BrokerProcess.start(on, label + "-b" + i, logDir));
            }
            return started;
        } catch (IOException | RuntimeException e) {
            started.forEach(BrokerProcess::stop);
            throw e;
        }
    }

    private static List<Integer> ports(List<BrokerProcess> brokers) {
        return brokers.stream().map(BrokerProcess::port).toList();
    }

    /** The rows scenario 4's code makes, numbered and named as this scenario's. */
    private static Row relabel(Row row) {
        String name = row.name().startsWith("PostgreSQL: ") ? row.name() : "PostgreSQL: " + row.name();
        return new Row(SCENARIO, name, row.perSecond(), row.messages(), row.seconds(), row.latency(), row.errors(),
                row.resources(), row.notes());
    }

    /** Notes the row's msg/s as a fraction of the pgbench ceiling's rows/s. */
    private static Row ofCeiling(Row row, Double ceiling) {
        if (ceiling == null || row.perSecond() == null) {
            return row;
        }
        return row.withNote(String.format(Locale.ROOT, "%.2f of the pgbench ceiling (target 0.7)",
                row.perSecond() / ceiling));
    }

    /** pgbench beside the server binaries of the newest installed PostgreSQL, else on the PATH; null when none. */
    private static Path pgbench() {
        Path versions = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(versions)) {
            try (Stream<Path> dirs = Files.list(versions)) {
                var found = dirs.map(d -> d.resolve("bin/pgbench")).filter(Files::isExecutable)
                        .max(Comparator.comparing(Path::toString));
                if (found.isPresent()) {
                    return found.get();
                }
            } catch (IOException e) {
                // unreadable: try the PATH
            }
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, "pgbench");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    private static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }
}
