package io.sluice.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The command line of {@code make bench}. {@code --quick} shortens whatever was not given explicitly,
 * whatever the order of the flags.
 */
record BenchOptions(SortedSet<Integer> scenarios, Duration duration, Duration warmup, Duration brokerWarmup,
                    Duration fixedDuration, Duration fixedWarmup, int rate, int backlog, boolean quick,
                    String target, String metricsUrl, Path jar, Path java, Path out, Path dataRoot, int channels,
                    List<String> brokerArgs, List<String> brokerJvmArgs) {

    static final String USAGE = """
            usage: make bench BENCH_ARGS="[options]"
              --scenarios LIST     which scenarios to run, e.g. 1,3,5 (default 1-14; 7, resource use, is
                                   sampled during every run; 6 also runs 5, its baseline; 8 is the Java
                                   client as an application uses it, 9 the same patterns against NATS
                                   JetStream, skipped with a note where nats-server is missing; 10 is TLS
                                   with a token against plaintext; 11 dedup ids, 12 retention and the
                                   database size under churn; 13 and 14 shared groups; 15, not in the
                                   default, the PostgreSQL backend next to a pgbench ceiling, with 1, 2
                                   and 3 brokers on one database)
              --duration D         measured time of each throughput run (default 10s; e.g. 10s, 500ms, 1m)
              --warmup D           unmeasured time before each run (default 2s)
              --broker-warmup D    unmeasured load on each new broker before its scenario (a --target: once,
                                   before the first), to bring its JIT to steady state: half unary publishes,
                                   half a drain (default 10s; 0 = none)
              --fixed-duration D   measured time of the fixed-rate runs, scenarios 5 and 6 (default 30s)
              --fixed-warmup D     unmeasured open-loop sending at the fixed rate before each of those runs
                                   (default 10s: the load generator's sender path must be warm too)
              --rate N             fixed-rate publish rate in msg/s (default 5000)
              --backlog N          messages the end-to-end drain reads (default 1000000)
              --quick              smoke test: 1s runs, 0.5s warmups, 1s broker warmup, 3s fixed-rate runs,
                                   50000 backlog
              --target HOST:PORT   use a running broker instead of starting one (no RSS, heap or threads)
              --metrics URL        with --target: its Prometheus endpoint, for commits/s and msg/commit
              --jar PATH           broker jar to start (default target/sluice.jar)
              --java PATH          java binary for the broker (default: the one running this; jcmd beside it)
              --out DIR            where the JSON goes (default target/bench)
              --data-root DIR      where the brokers' temporary data directories go (default target/bench/tmp)
              --channels N         client channels (TCP connections), calls spread over them (default 4)
              --broker-arg ARG     extra argument for 'sluice serve' (repeatable), e.g. --broker-arg=--writer-queue=4096
              --broker-jvm-arg ARG extra JVM argument for the broker (repeatable), after -Xmx128m
              --help               this text
            """;

    static BenchOptions parse(String[] args) {
        SortedSet<Integer> scenarios = null;
        Duration duration = null;
        Duration warmup = null;
        Duration brokerWarmup = null;
        Duration fixed = null;
        Duration fixedWarmup = null;
        Integer backlog = null;
        int rate = 5000;
        boolean quick = false;
        String target = null;
        String metrics = null;
        Path jar = Path.of("target/sluice.jar");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path out = Path.of("target/bench");
        Path dataRoot = null;
        int channels = 4;
        List<String> brokerArgs = new ArrayList<>();
        List<String> brokerJvmArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            String value = null;
            int eq = flag.indexOf('=');
            if (flag.startsWith("--") && eq > 0) {
                value = flag.substring(eq + 1);
                flag = flag.substring(0, eq);
            }
            if (flag.equals("--quick")) {
                quick = true;
                continue;
            }
            if (flag.equals("--help") || flag.equals("-h")) {
                throw new Usage(null);
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new Usage(flag + " needs a value");
                }
                value = args[++i];
            }
            switch (flag) {
                case "--scenarios" -> scenarios = scenarios(value);
                case "--duration" -> duration = duration(flag, value);
                case "--warmup" -> warmup = duration(flag, value);
                case "--broker-warmup" -> brokerWarmup = duration(flag, value);
                case "--fixed-duration" -> fixed = duration(flag, value);
                case "--fixed-warmup" -> fixedWarmup = duration(flag, value);
                case "--rate" -> rate = positive(flag, value);
                case "--backlog" -> backlog = positive(flag, value);
                case "--target" -> target = value;
                case "--metrics" -> metrics = value;
                case "--jar" -> jar = Path.of(value);
                case "--java" -> java = Path.of(value);
                case "--out" -> out = Path.of(value);
                case "--data-root" -> dataRoot = Path.of(value);
                case "--channels" -> channels = positive(flag, value);
                case "--broker-arg" -> brokerArgs.add(value);
                case "--broker-jvm-arg" -> brokerJvmArgs.add(value);
                default -> throw new Usage("unknown option " + flag);
            }
        }
        if (target != null && !target.matches("[^:]+:\\d{1,5}")) {
            throw new Usage("--target wants HOST:PORT, not " + target);
        }
        if (scenarios == null) {
            scenarios = scenarios("1-14");
        }
        if (scenarios.contains(6)) {
            scenarios.add(5);   // 6 is judged against 5
        }
        return new BenchOptions(scenarios,
                duration != null ? duration : quick ? Duration.ofSeconds(1) : Duration.ofSeconds(10),
                warmup != null ? warmup : quick ? Duration.ofMillis(500) : Duration.ofSeconds(2),
                brokerWarmup != null ? brokerWarmup : quick ? Duration.ofSeconds(1) : Duration.ofSeconds(10),
                fixed != null ? fixed : quick ? Duration.ofSeconds(3) : Duration.ofSeconds(30),
                fixedWarmup != null ? fixedWarmup : quick ? Duration.ofMillis(500) : Duration.ofSeconds(10),
                rate, backlog != null ? backlog : quick ? 50_000 : 1_000_000, quick, target, metrics, jar, java,
                out, dataRoot != null ? dataRoot : out.resolve("tmp"), channels, List.copyOf(brokerArgs),
                List.copyOf(brokerJvmArgs));
    }

    /** The same options with {@code more} extra {@code serve} arguments for the broker. */
    BenchOptions withMoreBrokerArgs(List<String> more) {
        var args = new java.util.ArrayList<>(brokerArgs);
        args.addAll(more);
        return new BenchOptions(scenarios, duration, warmup, brokerWarmup, fixedDuration, fixedWarmup, rate, backlog,
                quick, target, metricsUrl, jar, java, out, dataRoot, channels, List.copyOf(args), brokerJvmArgs);
    }

    /** The same options with other extra JVM arguments for the broker. */
    BenchOptions withBrokerJvmArgs(List<String> args) {
        return new BenchOptions(scenarios, duration, warmup, brokerWarmup, fixedDuration, fixedWarmup, rate, backlog,
                quick, target, metricsUrl, jar, java, out, dataRoot, channels, brokerArgs, List.copyOf(args));
    }

    private static SortedSet<Integer> scenarios(String list) {
        SortedSet<Integer> picked = new TreeSet<>();
        for (String part : list.split(",")) {
            String p = part.strip();
            try {
                int dash = p.indexOf('-');
                int from = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
                int to = dash < 0 ? from : Integer.parseInt(p.substring(dash + 1));
                for (int s = from; s <= to; s++) {
                    if (s < 1 || s > 15) {
                        throw new Usage("scenarios are numbered 1 to 15, not " + s);
                    }
                    if (s != 7) {   // 7 is the resource sampling every run does
                        picked.add(s);
                    }
                }
            } catch (NumberFormatException e) {
                throw new Usage("--scenarios wants a list like 1,3,5 or 1-4, not " + list);
            }
        }
        if (picked.isEmpty()) {
            throw new Usage("--scenarios " + list + ": scenario 7 (resource use) is sampled during the others; "
                    + "pick at least one of 1-6 or 8-15");
        }
        return picked;
    }

    static Duration duration(String flag, String value) {
        String v = value.strip().toLowerCase(Locale.ROOT);
        try {
            Duration d;
            if (v.endsWith("ms")) {
                d = Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
            } else if (v.endsWith("s")) {
                d = Duration.ofMillis(Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 1000));
            } else if (v.endsWith("m")) {
                d = Duration.ofSeconds(Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 60));
            } else {
                d = Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000));
            }
            if (d.isNegative() || (d.isZero() && !flag.endsWith("warmup"))) {
                throw new Usage(flag + " must be positive, not " + value);
            }
            return d;
        } catch (NumberFormatException e) {
            throw new Usage(flag + " wants a duration like 10s, 500ms or 1m, not " + value);
        }
    }

    private static int positive(String flag, String value) {
        try {
            int n = Integer.parseInt(value.strip().replace("_", "").replace(",", ""));
            if (n < 1) {
                throw new Usage(flag + " must be at least 1, not " + value);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new Usage(flag + " wants a whole number, not " + value);
        }
    }

    /** A bad command line: the message (null for --help) and the usage text go to the user. */
    static final class Usage extends RuntimeException {
        Usage(String message) {
            super(message, null, false, false);
        }
    }
}
