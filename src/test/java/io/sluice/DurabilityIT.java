package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import io.sluice.store.sqlite.SqliteStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built jar as a child process: acknowledged publishes survive SIGKILL (20 cycles in
 * {@code make test}, 200 in {@code make soak}, each restart checked through the broker) and a SIGTERM
 * at peak load drains cleanly; the command line (flags, environment, refusal of a damaged database)
 * behaves as SPEC section 4 says.
 */
@ExtendWith(Figures.class)
class DurabilityIT {
    private static final Path FIXTURES = Path.of(System.getProperty("basedir", ".")).resolve("test-data");
    private static final Duration EXIT = Duration.ofSeconds(30);
    private static final int PUBLISHERS = 8;
    /** The --shutdown-grace of the drain test. */
    private static final Duration GRACE = Duration.ofSeconds(5);
    /**
     * How long a SIGTERM may take at most (README): streams get up to the grace to end, calls in
     * flight up to the grace again, then 5 s after being cancelled; then the queue is committed.
     */
    private static final Duration DRAIN_BOUND = GRACE.multipliedBy(2).plusSeconds(5 + 10);

    @TempDir
    Path dir;

    /** Every child this test started: killed after it, and their output shown when it fails. */
    @RegisterExtension
    final Children children = new Children(() -> dir);

    // ---- durability ----

    @Test
    void acknowledgedPublishesSurviveRepeatedKills() throws Exception {
        Path data = dir.resolve("data");
        long seed = Long.getLong("sluice.seed", System.nanoTime());
        var random = new Random(seed);
        var ledger = new Ledger();
        int kills = Figures.scaled(12, 200);
        var recovery = new ArrayList<Long>();
        var started = new ArrayList<Long>();
        int served = 0;
        System.out.printf("DurabilityIT kills: seed=%d (rerun with -Dsluice.seed=%d), %d cycles%n", seed, seed, kills);

        for (int cycle = 0; cycle < kills; cycle++) {
            long spawned = System.nanoTime();
            BrokerProcess child = children.serve(data);
            try (var channel = new Closing(child.channel())) {
                probe(channel, ledger, "probe-c" + cycle);   // the first publish this incarnation serves
                recovery.add((System.nanoTime() - spawned) / 1_000_000);
                started.add(startMillis(child));

                // After every restart, every message acknowledged so far is served: once, intact, in order.
                Ledger.Verdict v = ledger.verify(Contents.served(channel.get()));
                v.assertNothingLost(ledger);
                served = v.found();

                try (var load = new PublishLoad(child.port(), cycle, PUBLISHERS, 1, ledger, PublishLoad.KILLED)) {
                    // The kill is placed by acknowledgements, not by sleeping: it lands mid-stream
                    // however fast the machine is. Each cycle is short; the count of cycles is the point.
                    load.awaitAcks(30 + random.nextInt(300));
                    if (!child.process.isAlive()) {
                        Figures.row("crash: SIGKILL under load").crashes(1);
                    }
                    assertTrue(child.process.isAlive(), "the broker was alive until the kill");
                    child.process.destroyForcibly();           // SIGKILL, publishes in flight
                    assertTrue(child.process.waitFor(EXIT.toSeconds(), TimeUnit.SECONDS), "the child died");
                    load.awaitStopped();
                    assertTrue(load.unexpected().isEmpty(), "publish failures not caused by the kill: "
                            + load.unexpected());
                }
            }
        }

        BrokerProcess last = children.serve(data);
        try (var channel = new Closing(last.channel())) {
            ledger.verify(Contents.served(channel.get())).assertNothingLost(ledger);
        }
        assertEquals(0, last.terminate(EXIT), "exit code after SIGTERM");

        Ledger.Verdict v = ledger.verify(Contents.ofDataDir(data));
        System.out.printf("DurabilityIT kills: seed=%d cycles=%d acknowledged=%d found=%d lost=%d "
                        + "stored-without-answer=%d reused-sequences=%d; spawn to first served publish ms "
                        + "min/median/max %s; broker's own start ms %s%n",
                seed, kills, ledger.size(), v.found(), v.lost().size(), v.storedWithoutAnswer(),
                ledger.reused.size(), Figures.spread(recovery), Figures.spread(started));
        Figures.row("crash: SIGKILL under load").cycles(kills).acknowledged(ledger.size()).lost(v.lost().size());
        recovery.forEach(ms -> Figures.row("crash: SIGKILL under load").recovery(ms));
        v.assertNothingLost(ledger);
        assertTrue(served <= v.found());
    }

    @Test
    void sigtermAtPeakLoadEndsStreamsWithShuttingDownExitsZeroAndKeepsEveryAcknowledgedMessage() throws Exception {
        Path data = dir.resolve("data");
        var ledger = new Ledger();
        BrokerProcess child = children.serve(data, "--shutdown-grace", GRACE.toSeconds() + "s");
        var channel = new Closing(child.channel());
        var streams = new ArrayList<StreamClient>();
        try (channel) {
            var stub = SluiceGrpc.newStub(channel.get());
            for (String topic : PublishLoad.TOPICS) {
                var s = StreamClient.group(stub, topic, "drain", InitialPosition.EARLIEST);
                s.credit(Integer.MAX_VALUE);
                streams.add(s);
            }
            var browse = StreamClient.browse(stub, PublishLoad.TOPICS.getFirst(), InitialPosition.EARLIEST, 0);
            browse.credit(Integer.MAX_VALUE);
            streams.add(browse);

            long stopMillis;
            PublishLoad.Outcome outcome;
            Status piped;
            try (var load = new PublishLoad(child.port(), 0, 2 * PUBLISHERS, 2, ledger, PublishLoad.STOPPED);
                 var pipelined = new PipelinedPublisher(channel.get(), PublishLoad.TOPICS.get(1), "s", ledger)) {
                load.awaitAcks(2000);   // every publisher busy, subscribers reading
                pipelined.awaitAnswered(500);
                long signalled = System.nanoTime();
                child.process.destroy();   // SIGTERM while the publishers keep going
                assertEquals(0, child.awaitExit(DRAIN_BOUND), "exit code after SIGTERM");
                stopMillis = (System.nanoTime() - signalled) / 1_000_000;
                load.awaitStopped();
                outcome = load.outcome();
                piped = pipelined.awaitEnd();
            }
            assertTrue(outcome.unexpected().isEmpty(), "failures other than UNAVAILABLE: " + outcome.unexpected());
            assertEquals(Status.Code.UNAVAILABLE, piped.getCode(), "the PublishStream held open: " + piped);

            int delivered = 0;
            for (StreamClient s : streams) {
                StreamClient.Ended end = s.untilStreamError();
                assertEquals("SHUTTING_DOWN", end.error().getCode(), "the stream's StreamError");
                s.expectClosedWith(Status.Code.UNAVAILABLE);
                for (MessageDelivery d : end.deliveries()) {
                    String key = Ledger.key(d.getPayload());
                    assertTrue(ledger.attempted.contains(key), "delivered payload " + key + " was published");
                    Ledger.Acked a = ledger.acked.get(key);
                    if (a != null) {
                        assertEquals(a.payload(), d.getPayload(), "delivered intact: " + key);
                        assertEquals(a.sequence(), d.getSequence(), "delivered at its sequence: " + key);
                    }
                }
                delivered += end.deliveries().size();
            }

            Ledger.Verdict v = ledger.verify(Contents.ofDataDir(data));
            System.out.printf("DurabilityIT sigterm at peak load: exited 0 in %d ms (bound %s with --shutdown-grace "
                            + "%s); acknowledged=%d found=%d lost=%d unanswered=%d stored-without-answer=%d; "
                            + "%d streams ended SHUTTING_DOWN/UNAVAILABLE after %d deliveries; the PublishStream %s%n",
                    stopMillis, DRAIN_BOUND, GRACE, ledger.size(), v.found(), v.lost().size(), outcome.failed(),
                    v.storedWithoutAnswer(), streams.size(), delivered, piped);
            Figures.row("drain: SIGTERM at peak load").cycles(1).acknowledged(ledger.size()).lost(v.lost().size())
                    .stop(stopMillis);
            v.assertNothingLost(ledger);
        } finally {
            streams.forEach(StreamClient::close);
        }
    }

    /** Publishes one message and records it: the broker serves publishes. */
    private static void probe(Closing channel, Ledger ledger, String key) {
        var payload = ledger.attempt(key);
        String topic = PublishLoad.TOPICS.getFirst();
        PublishResponse r = SluiceGrpc.newBlockingStub(channel.get()).withDeadlineAfter(30, TimeUnit.SECONDS)
                .publish(PublishRequest.newBuilder().setTopic(topic).setPayload(payload)
                        .putAttributes("writer", key).build());
        ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
    }

    /** The start time the broker reports in its banner ("started in N ms"). */
    private static long startMillis(BrokerProcess child) {
        Matcher m = Pattern.compile("started in (\\d+) ms").matcher(child.awaitBanner());
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** A channel closed at the end of a try block. */
    private record Closing(ManagedChannel get) implements AutoCloseable {
        @Override
        public void close() {
            try {
                get.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- command line ----

    @Test
    void serveHelpListsEveryFlagWithItsEnvironmentVariableAndDefault() throws Exception {
        BrokerProcess help = children.start(List.of("-Xmx128m"), List.of("serve", "--help"), Map.of());
        assertEquals(0, help.awaitExit(EXIT), "exit code of serve --help");
        String text = help.stdout();

        Map<String, String[]> flags = new LinkedHashMap<>();
        flags.put("--host", new String[] {"SLUICE_HOST", "0.0.0.0"});
        flags.put("--port", new String[] {"SLUICE_PORT", "50051"});
        flags.put("--metrics-port", new String[] {"SLUICE_METRICS_PORT", "9090"});
        flags.put("--data-dir", new String[] {"SLUICE_DATA_DIR", "./sluice-data"});
        flags.put("--log-level", new String[] {"SLUICE_LOG_LEVEL", "info"});
        flags.put("--max-message-bytes", new String[] {"SLUICE_MAX_MESSAGE_BYTES", "4194304"});
        flags.put("--max-batch-bytes", new String[] {"SLUICE_MAX_BATCH_BYTES", "16777216"});
        flags.put("--writer-queue", new String[] {"SLUICE_WRITER_QUEUE", "8192"});
        flags.put("--heartbeat", new String[] {"SLUICE_HEARTBEAT", "10s"});
        flags.put("--shutdown-grace", new String[] {"SLUICE_SHUTDOWN_GRACE", "10s"});
        Map<String, String> entries = helpEntries(text);
        flags.forEach((flag, expected) -> {
            String entry = entries.get(flag);
            assertNotNull(entry, flag + " is listed in:\n" + text);
            assertTrue(entry.contains("env " + expected[0]), flag + " names " + expected[0] + ": " + entry);
            assertTrue(entry.contains("default " + expected[1]), flag + " shows default " + expected[1] + ": " + entry);
        });
        // Any other flag, present or added later, follows the same rule.
        entries.forEach((flag, entry) -> {
            if (!flag.equals("--help") && !flag.equals("--version")) {
                assertTrue(entry.matches(".*\\(env [A-Z_]+, default [^)]+\\)\\.?$"),
                        flag + " ends with (env NAME, default VALUE): " + entry);
            }
        });
    }

    @Test
    void environmentVariablesConfigureTheBrokerAndFlagsWin() throws Exception {
        Path data = dir.resolve("from-env");
        var env = Map.of(
                "SLUICE_DATA_DIR", data.toString(),
                "SLUICE_HOST", "127.0.0.1",
                "SLUICE_METRICS_PORT", "0",
                "SLUICE_MAX_MESSAGE_BYTES", "2048",
                "SLUICE_MAX_BATCH_BYTES", "4096",
                "SLUICE_LOG_LEVEL", "warn");
        // SLUICE_PORT is unset; the batch limit is given both ways and the flag must win.
        BrokerProcess child = children.start(List.of("-Xmx128m"),
                List.of("serve", "--port", "0", "--max-batch-bytes", "65536"), env);
        String banner = child.awaitBanner();

        assertTrue(banner.contains("data in " + data), "banner names the data directory: " + banner);
        assertTrue(banner.contains("serving gRPC on 127.0.0.1:"), "SLUICE_HOST: " + banner);
        assertTrue(banner.contains("metrics off"), "SLUICE_METRICS_PORT=0: " + banner);
        assertTrue(banner.contains("message 2048 B"), "SLUICE_MAX_MESSAGE_BYTES: " + banner);
        assertTrue(banner.contains("batch 65536 B"), "--max-batch-bytes beats SLUICE_MAX_BATCH_BYTES: " + banner);
        try (var channel = new Closing(child.channel())) {
            var stub = SluiceGrpc.newBlockingStub(channel.get()).withDeadlineAfter(30, TimeUnit.SECONDS);
            var e = assertThrows(StatusRuntimeException.class, () -> stub.publish(request("t", new byte[2049])));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), "the limit from the environment");
            stub.publish(request("t", new byte[2048]));
        }
        child.process.destroy();
        assertEquals(0, child.awaitExit(EXIT));
        assertTrue(Files.exists(data.resolve(SqliteStore.FILE_NAME)), "the database is where SLUICE_DATA_DIR says");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"damaged b-tree page", "crash image without its -wal", "crash image with its -wal cut"})
    void startingOnADamagedDatabaseExitsNonZeroNamingTheFile(String damage) throws Exception {
        Path data = Files.createDirectories(dir.resolve("damaged"));
        Path file = data.resolve(SqliteStore.FILE_NAME);
        Path named = file;
        switch (damage) {
            case "damaged b-tree page" -> Files.copy(FIXTURES.resolve("damaged-btree.db"), file);
            default -> {
                Path image = FIXTURES.resolve("crash-image");
                for (String name : List.of(SqliteStore.FILE_NAME, SqliteStore.FILE_NAME + "-wal",
                        SqliteStore.FILE_NAME + "-shm")) {
                    Files.copy(image.resolve(name), data.resolve(name));
                }
                named = data.resolve(SqliteStore.FILE_NAME + "-wal");
                if (damage.contains("without")) {
                    Files.delete(named);
                } else {
                    try (var wal = new java.io.RandomAccessFile(named.toFile(), "rw")) {
                        wal.setLength(wal.length() / 2);
                    }
                }
            }
        }
        try (var files = Files.list(data)) {
            files.forEach(f -> f.toFile().setWritable(true));
        }

        BrokerProcess child = children.start(List.of("-Xmx128m"),
                List.of("serve", "--port", "0", "--metrics-port", "0", "--host", "127.0.0.1",
                "--data-dir", data.toString(), "--log-level", "warn"), Map.of());
        int code = child.awaitExit(EXIT);

        assertNotEquals(0, code, "exit code on a damaged database");
        assertTrue(child.stderr().contains(named.toAbsolutePath().toString()),
                "the refusal names " + named + ":\n" + child.stderr());
        assertTrue(child.stdout().lines().noneMatch(l -> BrokerProcess.BANNER.matcher(l).matches()), "it never served");
        System.out.printf("DurabilityIT %s: serve exits %d: %s%n", damage, code, child.stderr().strip());
        Figures.row("corruption: refused at start (jar)").cycles(1).corruptions(1);
    }

    private static PublishRequest request(String topic, byte[] payload) {
        return PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFrom(payload)).build();
    }

    // ---- child processes ----

    /**
     * The entries of a picocli usage text by flag: the lines from one option's line to the next
     * option's, joined, so that a wrapped description reads as one line.
     */
    private static Map<String, String> helpEntries(String usage) {
        var entries = new HashMap<String, String>();
        String flag = null;
        var current = new StringBuilder();
        for (String line : usage.split("\n")) {
            Matcher m = Pattern.compile("^\\s+(?:-\\w, )?(--[a-z-]+)\\b.*").matcher(line);
            if (m.matches()) {
                if (flag != null) {
                    entries.put(flag, current.toString().replaceAll("\\s+", " "));
                }
                flag = m.group(1);
                current.setLength(0);
            }
            if (flag != null) {
                current.append(' ').append(line.trim());
            }
        }
        if (flag != null) {
            entries.put(flag, current.toString().replaceAll("\\s+", " "));
        }
        return entries;
    }
}
