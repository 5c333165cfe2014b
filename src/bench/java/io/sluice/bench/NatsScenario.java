package io.sluice.bench;

import io.nats.client.Connection;
import io.nats.client.ConsumeOptions;
import io.nats.client.ConsumerContext;
import io.nats.client.IterableConsumer;
import io.nats.client.JetStream;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Scenario 9: the patterns of scenario 8 against a NATS JetStream server run in the same sitting,
 * through NATS's own Java client (jnats) used the ordinary way: one connection, {@code publish}
 * (waits for the stream's ack) and {@code publishAsync}, and a durable pull consumer iterated in
 * batches of 1,000 with an explicit ack per message. The server is Debian's {@code nats-server},
 * started with JetStream on a temporary directory (file storage, its default sync: it does not fsync
 * before acknowledging, where Sluice does). When the binary is missing and the bench runs as root it
 * installs the package; otherwise the scenario is skipped with a note.
 */
final class NatsScenario {
    static final String TITLE = "NATS JetStream";
    private static final List<Path> BINARIES = List.of(Path.of("/usr/bin/nats-server"), Path.of("/usr/sbin/nats-server"),
            Path.of("/usr/local/bin/nats-server"));
    private static final String NOTE = "NATS JetStream file store, default sync: acknowledged before any fsync";

    private NatsScenario() {
    }

    /** Runs the rows into {@code sink}; false when the scenario failed (a skip is not a failure). */
    static boolean run(BenchOptions options, UnaryOperator<Row> sink) {
        Path server = serverBinary();
        if (server == null) {
            sink.apply(Row.without(9, TITLE, "skipped: no nats-server binary, and "
                    + (isRoot() ? "installing Debian's nats-server package failed" : "not root, so the bench does "
                    + "not install Debian's nats-server package (apt-get install nats-server)")));
            return true;
        }
        Path dir = null;
        Process process = null;
        try {
            Files.createDirectories(options.dataRoot());
            dir = Files.createTempDirectory(options.dataRoot(), "nats-");
            int port = freePort();
            process = new ProcessBuilder(server.toString(), "-js", "-sd", dir.toString(), "-a", "127.0.0.1",
                    "-p", Integer.toString(port))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("nats-server.log").toFile()).start();
            awaitListening(process, port);
            try (Connection nc = Nats.connect(new Options.Builder().server("nats://127.0.0.1:" + port).build());
                 var probe = new Probe(null, process.toHandle(), null)) {
                nc.jetStreamManagement().addStream(StreamConfiguration.builder().name("BENCH")
                        .subjects("bench.>").storageType(StorageType.File).build());
                var session = new Session(options, null, probe, "bench.", row -> sink.apply(row.withNote(NOTE)),
                        "127.0.0.1:" + port);
                patterns(session, nc);
            }
            return true;
        } catch (IOException | RuntimeException | InterruptedException | io.nats.client.JetStreamApiException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            sink.apply(Row.without(9, TITLE, "failed: " + e));
            return false;
        } finally {
            if (process != null) {
                process.destroy();
                try {
                    if (!process.waitFor(10, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
            delete(dir);
        }
    }

    private static void patterns(Session s, Connection nc) throws IOException, InterruptedException,
            io.nats.client.JetStreamApiException {
        JetStream js = nc.jetStream();
        byte[] payload = PublishScenarios.payload(ClientScenarios.SIZE).toByteArray();
        for (int threads : ClientScenarios.WAITING) {
            String subject = s.topic("waiting.t" + threads);
            Measured m = AppLoad.waiting(s, threads, () -> js.publish(subject, payload));
            s.done(Row.of(9, "NATS publish 100 B, " + threads + " thread" + (threads == 1 ? "" : "s") + " waiting", m));
        }
        for (int threads : ClientScenarios.ASYNC) {
            String subject = s.topic("async.t" + threads);
            Measured m = AppLoad.outstanding(s, threads, () -> js.publishAsync(subject, payload));
            s.done(Row.of(9, "NATS publishAsync 100 B, " + threads + " thread" + (threads == 1 ? "" : "s")
                    + ", futures outstanding", m));
        }
        s.done(drain(s, nc, js, payload));
    }

    private static Row drain(Session s, Connection nc, JetStream js, byte[] payload) throws IOException,
            InterruptedException, io.nats.client.JetStreamApiException {
        int backlog = s.options().backlog();
        String name = String.format("NATS pull consumer drains %,d, ack each", backlog);
        String subject = s.topic("drain");
        long fillStart = System.nanoTime();
        var room = new Semaphore(AppLoad.OUTSTANDING);
        var failed = new CompletableFuture<Throwable>();
        for (int i = 0; i < backlog && !failed.isDone(); i++) {
            room.acquire();
            js.publishAsync(subject, payload).whenComplete((ack, error) -> {
                room.release();
                if (error != null) {
                    failed.complete(error);
                }
            });
        }
        if (!room.tryAcquire(AppLoad.OUTSTANDING, 60, TimeUnit.SECONDS) || failed.isDone()) {
            return Row.without(9, name, "filling the backlog failed: " + (failed.isDone() ? failed.join()
                    : "answers missing after 60 s"));
        }
        List<String> notes = new ArrayList<>();
        notes.add(String.format("backlog filled with publishAsync at %,.0f msg/s (not timed); batches of %,d",
                backlog / ((System.nanoTime() - fillStart) / 1e9), ClientScenarios.DRAIN_WINDOW));
        String warm = warmDrain(nc, subject, backlog, s.options().warmup());
        notes.add(warm == null ? "after a warm-up drain of the same backlog by another consumer for "
                + Bench.human(s.options().warmup()) : "the warm-up drain " + warm);
        ConsumerContext consumer = nc.getStreamContext("BENCH").createOrUpdateConsumer(ConsumerConfiguration.builder()
                .durable("drain").filterSubject(subject).ackPolicy(AckPolicy.Explicit).deliverPolicy(DeliverPolicy.All)
                .build());
        long received = 0;
        String stopped = null;
        Probe.Window window = s.probe().begin();
        long begun = System.nanoTime();
        try (IterableConsumer it = consumer.iterate(ConsumeOptions.builder()
                .batchSize(ClientScenarios.DRAIN_WINDOW).build())) {
            while (received < backlog) {
                io.nats.client.Message m = it.nextMessage(ClientScenarios.STALL);
                if (m == null) {
                    stopped = "no message for " + ClientScenarios.STALL.toSeconds() + " s";
                    break;
                }
                m.ack();
                received++;
            }
        } catch (io.nats.client.JetStreamStatusCheckedException e) {
            stopped = e.toString();
        } catch (Exception e) {
            stopped = e.toString();   // closing the iterator
        }
        long last = System.nanoTime();
        Resources resources = window.end();
        if (stopped != null) {
            notes.add(String.format("stopped after %,d of %,d messages: %s", received, backlog, stopped));
        }
        return Row.of(9, name, new Measured(received, (last - begun) / 1e9, Latency.Summary.NONE,
                stopped == null ? 0 : 1, resources, notes));
    }

    /** As the Sluice drain's warm-up ({@link ClientScenarios}): another durable consumer, for {@code warmup}. */
    private static String warmDrain(Connection nc, String subject, int backlog, Duration warmup) {
        long end = System.nanoTime() + warmup.toNanos();
        try {
            ConsumerContext consumer = nc.getStreamContext("BENCH").createOrUpdateConsumer(ConsumerConfiguration
                    .builder().durable("drain-warmup").filterSubject(subject).ackPolicy(AckPolicy.Explicit)
                    .deliverPolicy(DeliverPolicy.All).build());
            try (IterableConsumer it = consumer.iterate(ConsumeOptions.builder()
                    .batchSize(ClientScenarios.DRAIN_WINDOW).build())) {
                for (long received = 0; received < backlog && System.nanoTime() - end < 0; received++) {
                    io.nats.client.Message m = it.nextMessage(ClientScenarios.STALL);
                    if (m == null) {
                        return "stopped: no message for " + ClientScenarios.STALL.toSeconds() + " s";
                    }
                    m.ack();
                }
            }
            return null;
        } catch (Exception e) {
            return "stopped: " + e;
        }
    }

    /** The nats-server binary, installing Debian's package first when it is missing and this runs as root. */
    private static Path serverBinary() {
        Path found = BINARIES.stream().filter(Files::isExecutable).findFirst().orElse(null);
        if (found != null || !isRoot()) {
            return found;
        }
        System.err.println("[bench] nats-server is missing: apt-get install -y nats-server (running as root)");
        if (Exec.run(600, List.of("apt-get", "install", "-y", "nats-server")) == null) {
            Exec.run(600, List.of("apt-get", "update"));
            Exec.run(600, List.of("apt-get", "install", "-y", "nats-server"));
        }
        return BINARIES.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    private static boolean isRoot() {
        String id = Exec.run(5, List.of("id", "-u"));
        return id != null && id.strip().equals("0");
    }

    private static int freePort() throws IOException {
        try (var socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static void awaitListening(Process process, int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (var socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("nats-server did not start listening on " + port + " within 30 s", e);
                }
                TimeUnit.MILLISECONDS.sleep(50);
            }
        }
    }

    private static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("[bench] could not delete " + dir + ": " + e.getMessage());
        }
    }
}
