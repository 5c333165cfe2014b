package io.sluice.cli;

import io.sluice.BrokerProcess;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The command line as a child JVM on the test's class path (the classes just compiled, not the jar),
 * for what only a process shows: its exit code after a signal, and what it printed before it. Its
 * stdout and stderr go to files in {@code dir}; stdin is {@code input} (null: none). Killed by
 * {@link #close()} if still running.
 */
final class CliProcess implements AutoCloseable {
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    private final Process process;
    private final Path out;
    private final Path err;

    private CliProcess(Process process, Path out, Path err) {
        this.process = process;
        this.out = out;
        this.err = err;
    }

    /** Starts {@code sluice args...}, with the client JVM options bin/sluice uses; no SLUICE_ variables. */
    static CliProcess start(Path dir, Path input, String... args) throws IOException {
        return start(dir, input, java.util.Map.of(), args);
    }

    /** Like {@link #start(Path, Path, String...)} with the variables {@code env} set. */
    static CliProcess start(Path dir, Path input, java.util.Map<String, String> env, String... args)
            throws IOException {
        var command = new ArrayList<>(List.of(JAVA, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dio.grpc.netty.shaded.io.netty.transport.noNative=true",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        if (Runtime.version().feature() >= 23) {
            command.add(1, "--sun-misc-unsafe-memory-access=allow");   // protobuf's, as scripts/jvm-opts says
        }
        command.addAll(0, BrokerProcess.DEFAULT_SIGNALS);
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "cli", ".out");
        Path err = Files.createTempFile(dir, "cli", ".err");
        var builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("SLUICE_"));
        builder.environment().putAll(env);
        if (input != null) {
            builder.redirectInput(input.toFile());
        }
        return new CliProcess(builder.start(), out, err);
    }

    /** The stream the child reads as stdin, when started with {@code input} null and a pipe is wanted. */
    java.io.OutputStream stdin() {
        return process.getOutputStream();
    }

    /** The complete lines printed so far (a line still being written is left out). */
    List<String> lines() throws IOException {
        String text = Files.readString(out, StandardCharsets.UTF_8);
        int end = text.lastIndexOf('\n');
        return end < 0 ? List.of() : List.of(text.substring(0, end).split("\n"));
    }

    String stderr() throws IOException {
        return Files.readString(err, StandardCharsets.UTF_8);
    }

    /** Sends {@code signal} (e.g. INT, as Ctrl-C does) to the child. */
    void signal(String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start();
        try (InputStream ignored = kill.getInputStream()) {
            if (!kill.waitFor(30, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IOException("kill -" + signal + " " + process.pid() + " failed");
            }
        }
    }

    /** Waits (at most 60 s) for the child to exit; answers its exit code. */
    int awaitExit() throws InterruptedException, IOException {
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new IOException("the CLI did not exit within 60 s; stderr: " + stderr());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }
}
