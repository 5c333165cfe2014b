package io.sluice.bench;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import com.google.protobuf.ByteString;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A broker started from the jar as a child process ({@code -Xmx128m}, loopback only, gRPC on a free
 * port, metrics on another) over a fresh data directory, which {@link #stop()} stops with SIGTERM and
 * deletes. Its stderr goes to a log file kept under the output directory. One daemon thread reads its
 * stdout for the banner.
 */
final class BrokerProcess {
    static final String HOST = "127.0.0.1";
    private static final Pattern BANNER = Pattern.compile("serving gRPC on \\S+:(\\d+),");
    private static final Pattern METRICS = Pattern.compile("metrics on http://[^/\\s]+:(\\d+)/metrics");
    private static final Pattern STARTED = Pattern.compile("\\(started in (\\d+) ms\\)");
    /** Log lines worth a look: WARN and ERROR records, and the first line of a stack trace or a JVM error. */
    private static final Pattern TROUBLE = Pattern.compile("^\\S+ (WARN|ERROR) |Exception|Error:|^#");

    /**
     * How long the broker took, from just before the process was spawned: to its banner, to a health
     * check answered SERVING, to a first publish answered; and what it reports itself (server start only).
     */
    record Startup(double bannerMillis, double healthMillis, double publishMillis, Long reportedMillis) {
    }

    /** How the broker ended: exit code (null: had to be killed), time from SIGTERM to exit, log lines worth a look. */
    record Stopped(Integer exitCode, double stopMillis, List<String> trouble, int troubleLines) {
    }

    private final Process process;
    private final Path dataDir;
    private final Path log;
    private final int port;
    private final int metricsPort;
    private final Startup startup;
    private final Path jcmd;
    private Stopped stopped;   // guarded by this

    private BrokerProcess(Process process, Path dataDir, Path log, int port, int metricsPort, Startup startup,
                          Path jcmd) {
        this.process = process;
        this.dataDir = dataDir;
        this.log = log;
        this.port = port;
        this.metricsPort = metricsPort;
        this.startup = startup;
        this.jcmd = jcmd;
    }

    /** Starts a broker and waits until it has answered a health check and a publish (30 s at most). */
    static BrokerProcess start(BenchOptions options, String label, Path logDir) throws IOException {
        return start(options, label, logDir, null);
    }

    /** As above; a broker serving TLS ({@code tls} not null) is probed over TLS with that token. */
    static BrokerProcess start(BenchOptions options, String label, Path logDir, Clients.Tls tls) throws IOException {
        if (!Files.isRegularFile(options.jar())) {
            throw new IOException("no broker jar at " + options.jar() + " (make jar builds it)");
        }
        Files.createDirectories(options.dataRoot());
        Files.createDirectories(logDir);
        Path dataDir = Files.createTempDirectory(options.dataRoot(), label + "-");
        Path log = logDir.resolve(label + ".log");
        int metricsPort = freePort();
        List<String> command = new ArrayList<>(List.of(options.java().toString(), "-Xmx128m"));
        command.addAll(options.brokerJvmArgs());
        command.addAll(List.of("-jar", options.jar().toString(), "serve", "--host", HOST, "--port", "0",
                "--metrics-port", Integer.toString(metricsPort), "--data-dir", dataDir.toString()));
        command.addAll(options.brokerArgs());

        long spawned = System.nanoTime();
        Process process = new ProcessBuilder(command)
                .redirectError(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        try {
            String banner = awaitBanner(process, log);
            double bannerMillis = millisSince(spawned);
            Matcher m = BANNER.matcher(banner);
            if (!m.find()) {
                throw new IOException("cannot find the port in the broker's banner: " + banner);
            }
            int port = Integer.parseInt(m.group(1));
            Matcher mm = METRICS.matcher(banner);
            int realMetricsPort = mm.find() ? Integer.parseInt(mm.group(1)) : 0;
            Matcher s = STARTED.matcher(banner);
            Long reported = s.find() ? Long.parseLong(s.group(1)) : null;
            double[] firstRpcs = firstRpcs(port, spawned, tls);
            Path jcmd = options.java().resolveSibling("jcmd");
            return new BrokerProcess(process, dataDir, log, port, realMetricsPort,
                    new Startup(bannerMillis, firstRpcs[0], firstRpcs[1], reported), jcmd);
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            deleteTree(dataDir);
            throw e;
        }
    }

    private static String awaitBanner(Process process, Path log) throws IOException {
        var banner = new CompletableFuture<String>();
        Thread reader = new Thread(() -> {
            try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (!banner.isDone() && line.contains("serving gRPC on")) {
                        banner.complete(line);
                    }
                }
            } catch (IOException e) {
                // the process went away
            }
            banner.completeExceptionally(new IOException("the broker exited before it served"));
        }, "bench-broker-stdout");
        reader.setDaemon(true);
        reader.start();
        try {
            return banner.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            String why = e instanceof TimeoutException ? "printed no banner within 30 s"
                    : "exited before it served" + (process.isAlive() ? "" : " (exit code " + process.exitValue() + ")");
            throw new IOException("the broker " + why + "; its stderr ends with:\n  "
                    + String.join("\n  ", tail(log, 15)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the broker started");
        }
    }

    /** Millis from spawn to the first health check answered SERVING, and to the first publish answered. */
    private static double[] firstRpcs(int port, long spawned, Clients.Tls tls) throws IOException {
        ManagedChannel channel = Clients.channel(HOST, port, tls);
        try {
            double health = -1;
            long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String last = "";
            while (health < 0) {
                try {
                    HealthCheckResponse r = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                            .check(HealthCheckRequest.getDefaultInstance());
                    if (r.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
                        health = millisSince(spawned);
                        break;
                    }
                    last = r.getStatus().toString();
                } catch (StatusRuntimeException e) {
                    last = e.getStatus().toString();
                }
                if (System.nanoTime() - giveUp > 0) {
                    throw new IOException("the broker printed its banner but did not answer SERVING to a health "
                            + "check within 10 s; last answer: " + last);
                }
                pause(20);   // a retry loop only: a broker that printed its banner normally answers at once
            }
            try {
                SluiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).publish(
                        PublishRequest.newBuilder().setTopic("bench.start").setPayload(ByteString.copyFromUtf8("hello"))
                                .build());
            } catch (StatusRuntimeException e) {
                throw new IOException("the broker's first publish failed: " + e.getStatus());
            }
            return new double[] {health, millisSince(spawned)};
        } finally {
            channel.shutdownNow();
        }
    }

    private static void pause(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the broker started");
        }
    }

    private static double millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1e6;
    }

    private static int freePort() throws IOException {
        try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    int port() {
        return port;
    }

    /** The Prometheus endpoint, null when it is off. */
    String metricsUrl() {
        return metricsPort == 0 ? null : "http://" + HOST + ":" + metricsPort + "/metrics";
    }

    ProcessHandle handle() {
        return process.toHandle();
    }

    Path jcmd() {
        return jcmd;
    }

    Startup startup() {
        return startup;
    }

    Path log() {
        return log;
    }

    boolean alive() {
        return process.isAlive();
    }

    /** The last lines of the broker's stderr. */
    List<String> tail(int lines) {
        return tail(log, lines);
    }

    private static List<String> tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return all.subList(Math.max(0, all.size() - lines), all.size());
        } catch (IOException | UncheckedIOException e) {
            return List.of("(cannot read " + log + ": " + e.getMessage() + ")");
        }
    }

    /**
     * SIGTERM, up to 30 s for a clean exit, then SIGKILL; the data directory is deleted. Idempotent: the
     * benchmark's shutdown hook may call it too.
     */
    synchronized Stopped stop() {
        if (stopped != null) {
            return stopped;
        }
        long asked = System.nanoTime();
        Integer code = null;
        try {
            process.destroy();
            if (process.waitFor(30, TimeUnit.SECONDS)) {
                code = process.exitValue();
            } else {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        double stopMillis = millisSince(asked);
        deleteTree(dataDir);
        List<String> trouble = new ArrayList<>();
        int count = 0;
        try {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                if (TROUBLE.matcher(line).find()) {
                    count++;
                    if (trouble.size() < 5) {
                        trouble.add(line.length() > 300 ? line.substring(0, 300) + "..." : line);
                    }
                }
            }
        } catch (IOException | UncheckedIOException e) {
            trouble.add("(cannot read " + log + ")");
        }
        stopped = new Stopped(code, stopMillis, trouble, count);
        return stopped;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("bench: could not delete " + dir + ": " + e.getMessage());
        }
    }
}
