package io.sluice;

import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built jar ({@code sluice.jar}, run by {@code sluice.java}, both set by failsafe) as a child
 * process. Its stdout and stderr are drained on their own threads, so it never blocks on a pipe;
 * the banner line gives its port.
 */
public final class BrokerProcess {
    public static final String JAVA = System.getProperty("sluice.java",
            ProcessHandle.current().info().command().orElse("java"));
    public static final String JAR = System.getProperty("sluice.jar", "target/sluice.jar");
    public static final Pattern BANNER =
            Pattern.compile("^sluice (\\S+) serving gRPC on (\\S+):(\\d+), (.*)$");
    static final Duration START = Duration.ofSeconds(30);
    /**
     * What a child's command starts with so that it gets SIGINT, SIGHUP and SIGTERM as a user's shell
     * would give them: an ignored signal stays ignored across exec, and the JVM installs no handler for
     * one ignored at its start, so a test run under {@code nohup} (or with SIGINT ignored) would test
     * something else. {@code env --default-signal} (GNU coreutils 8.31+) resets them and then execs the
     * command (the same pid); empty where that option is missing.
     */
    public static final List<String> DEFAULT_SIGNALS = defaultSignals();

    final Process process;
    private final String command;
    // Plain lists under their own lock: a child that logs a million lines must not cost the test
    // the quadratic copying of a CopyOnWriteArrayList.
    private final List<String> out = Collections.synchronizedList(new ArrayList<>());
    private final List<String> err = Collections.synchronizedList(new ArrayList<>());
    private final CompletableFuture<Matcher> banner = new CompletableFuture<>();
    private final Thread outDrain;
    private final Thread errDrain;

    private BrokerProcess(Process process, String command) {
        this.process = process;
        this.command = command;
        outDrain = drain(process.getInputStream(), out, "out", true);
        errDrain = drain(process.getErrorStream(), err, "err", false);
    }

    /**
     * Starts {@code java jvmArgs -jar sluice.jar args...} in {@code workDir}, with no SLUICE_ or OTEL_
     * variables but {@code env}.
     */
    public static BrokerProcess start(Path workDir, List<String> jvmArgs, List<String> args, Map<String, String> env)
            throws IOException {
        var command = new ArrayList<>(DEFAULT_SIGNALS);
        command.add(JAVA);
        command.addAll(jvmArgs);
        command.addAll(List.of("-jar", JAR));
        command.addAll(args);
        var builder = new ProcessBuilder(command).directory(workDir.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("SLUICE_") || k.startsWith("OTEL_"));
        builder.environment().putAll(env);
        return new BrokerProcess(builder.start(), String.join(" ", command));
    }

    private static List<String> defaultSignals() {
        List<String> prefix = List.of("env", "--default-signal=HUP,INT,TERM");
        try {
            var probe = new ArrayList<>(prefix);
            probe.add("true");
            Process p = new ProcessBuilder(probe).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 ? prefix : List.of();
        } catch (IOException e) {
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }

    /**
     * {@code serve} with {@code -Xmx128m} on a free port, loopback only, metrics off, data in
     * {@code data}, plus {@code extraArgs}; waits for its banner.
     */
    public static BrokerProcess serve(Path workDir, Path data, List<String> extraArgs) throws IOException {
        return serve(workDir, data, List.of("-Xmx128m"), extraArgs);
    }

    /** {@link #serve(Path, Path, List)} with these JVM options instead of {@code -Xmx128m} alone. */
    public static BrokerProcess serve(Path workDir, Path data, List<String> jvmArgs, List<String> extraArgs)
            throws IOException {
        var args = new ArrayList<>(List.of("serve", "--port", "0", "--metrics-port", "0", "--host", "127.0.0.1",
                "--data-dir", data.toString(), "--log-level", "warn"));
        args.addAll(extraArgs);
        BrokerProcess child = start(workDir, jvmArgs, args, Map.of());
        child.awaitBanner();
        return child;
    }

    private Thread drain(InputStream stream, List<String> lines, String name, boolean watchBanner) {
        return Thread.ofPlatform().daemon().name("child-" + process.pid() + "-" + name).start(() -> {
            try (var reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                    lines.add(line);
                    grown();
                    Matcher m = BANNER.matcher(line);
                    if (watchBanner && m.matches()) {
                        banner.complete(m);
                    }
                }
            } catch (IOException e) {
                lines.add("(reading the child's std" + name + " failed: " + e + ")");
            } finally {
                if (watchBanner) {
                    banner.completeExceptionally(new IllegalStateException("stdout ended without a banner"));
                }
            }
        });
    }

    private final java.util.concurrent.locks.ReentrantLock linesLock = new java.util.concurrent.locks.ReentrantLock();
    private final java.util.concurrent.locks.Condition linesGrew = linesLock.newCondition();

    private void grown() {
        linesLock.lock();
        try {
            linesGrew.signalAll();
        } finally {
            linesLock.unlock();
        }
    }

    /** Waits until a line of stdout or stderr contains {@code fragment}; fails the test at the deadline. */
    public void awaitOutput(String fragment, Duration timeout) throws InterruptedException {
        long left = timeout.toNanos();
        linesLock.lock();
        try {
            while (!contains(out, fragment) && !contains(err, fragment)) {
                if (left <= 0) {
                    fail("no line containing '" + fragment + "' within " + timeout + "\n" + transcript());
                }
                left = linesGrew.awaitNanos(left);
            }
        } finally {
            linesLock.unlock();
        }
    }

    /** True when a line holds {@code fragment}; iterates under the list's own lock (its readers append meanwhile). */
    private static boolean contains(List<String> lines, String fragment) {
        synchronized (lines) {
            for (String l : lines) {
                if (l.contains(fragment)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** The banner line; fails the test, showing stderr, when the child ends or stalls before it. */
    public String awaitBanner() {
        try {
            return banner.get(START.toSeconds(), TimeUnit.SECONDS).group(0);
        } catch (ExecutionException | TimeoutException e) {
            process.destroyForcibly();   // a child that never served is not left running after the test
            throw new AssertionError("no banner from `" + command + "`: " + e.getMessage() + "\n" + transcript());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    public int port() {
        awaitBanner();
        return Integer.parseInt(banner.join().group(3));
    }

    public long pid() {
        return process.pid();
    }

    /** The child process itself (alive or not, its exit value). */
    public Process process() {
        return process;
    }

    /** A plaintext channel to this broker; the caller closes it. */
    public ManagedChannel channel() {
        return NettyChannelBuilder.forAddress("127.0.0.1", port()).usePlaintext().directExecutor()
                .maxInboundMessageSize(64 << 20).build();
    }

    /** The exit code, once the process has ended and its output is drained. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            fail("`" + command + "` still running after " + timeout + "\n" + transcript());
        }
        outDrain.join(TimeUnit.SECONDS.toMillis(10));
        errDrain.join(TimeUnit.SECONDS.toMillis(10));
        return process.exitValue();
    }

    /** SIGTERM, then the exit code. */
    public int terminate(Duration timeout) throws InterruptedException {
        process.destroy();
        return awaitExit(timeout);
    }

    public String stdout() {
        synchronized (out) {
            return String.join("\n", out);
        }
    }

    public String stderr() {
        synchronized (err) {
            return String.join("\n", err);
        }
    }

    /** How many lines the child has written to stderr so far. */
    public int stderrLines() {
        return err.size();
    }

    /** The last {@code n} lines of stderr. */
    public String stderrTail(int n) {
        synchronized (err) {
            return String.join("\n", err.subList(Math.max(0, err.size() - n), err.size()));
        }
    }

    public String transcript() {
        return "--- `" + command + "` (pid " + process.pid() + (process.isAlive() ? ", alive" : ", exit "
                + process.exitValue()) + ")\n--- stdout:\n" + stdout() + "\n--- stderr:\n" + stderr() + "\n---";
    }

    /** The child's resident set size in KiB, from /proc (0 where there is none). */
    public long rssKiB() {
        return procStatus("VmRSS:");
    }

    /** The child's highest resident set size so far in KiB, from /proc (0 where there is none). */
    public long peakRssKiB() {
        return procStatus("VmHWM:");
    }

    private long procStatus(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** SIGKILL, and wait for the process to be gone. */
    public void kill() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
