package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.store.SqliteStore;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicInfo;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built jar as a child process: acknowledged publishes survive SIGKILL and SIGTERM, and the
 * command line (flags, environment, refusal of a damaged database) behaves as SPEC section 4 says.
 */
class DurabilityIT {
    private static final Path FIXTURES = Path.of(System.getProperty("basedir", ".")).resolve("test-data");
    private static final Duration EXIT = Duration.ofSeconds(30);
    private static final List<String> TOPICS = List.of("orders", "events", "audit");
    private static final int PUBLISHERS = 8;
    /** How a publish may fail when the broker is stopped gracefully: SPEC 3, "while shutting down: UNAVAILABLE". */
    private static final Set<Status.Code> STOPPED = Set.of(Status.Code.UNAVAILABLE);
    /** How a publish may fail when the broker is killed: the client's transport reports a closed connection. */
    private static final Set<Status.Code> KILLED = Set.of(Status.Code.UNAVAILABLE, Status.Code.UNKNOWN);

    @TempDir
    Path dir;

    /** Every child this test started: killed after it, and their output shown when it fails. */
    private final List<BrokerProcess> children = new CopyOnWriteArrayList<>();

    @RegisterExtension
    final TestWatcher dumpChildrenOnFailure = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            for (BrokerProcess c : children) {
                System.err.println(c.transcript());
            }
        }
    };

    @AfterEach
    void killChildren() throws InterruptedException {
        for (BrokerProcess c : children) {
            c.kill();
        }
    }

    // ---- durability ----

    @Test
    void acknowledgedPublishesSurviveRepeatedKills() throws Exception {
        Path data = dir.resolve("data");
        long seed = System.nanoTime();
        var random = new Random(seed);
        var ledger = new Ledger();
        int kills = 5;
        var perCycle = new ArrayList<String>();

        for (int cycle = 0; cycle < kills; cycle++) {
            BrokerProcess child = serve(data);
            try (var load = new Load(child.port(), cycle, ledger, KILLED)) {
                // The load before the kill is counted in acknowledgements, not slept for: every
                // cycle does real work however fast the machine is, and the kill lands mid-stream.
                int target = 200 + random.nextInt(1300);
                load.awaitAcks(target);
                child.process.destroyForcibly();           // SIGKILL, publishes in flight
                assertTrue(child.process.waitFor(EXIT.toSeconds(), TimeUnit.SECONDS), "the child died");
                load.awaitStopped();
                perCycle.add(load.acked() + " acked, " + load.failed() + " unanswered");
                assertTrue(load.unexpected().isEmpty(), "publish failures not caused by the kill: " + load.unexpected());
            }
        }

        BrokerProcess last = serve(data);
        try (var load = new Load(last.port(), kills, ledger, STOPPED)) {
            load.awaitAcks(100);
            load.stopAndAwait();
        }
        last.process.destroy();   // SIGTERM: a clean stop
        assertEquals(0, last.awaitExit(EXIT), "exit code after SIGTERM");

        Verdict v = verify(data, ledger);
        System.out.printf("DurabilityIT kills: seed=%d cycles=%d acknowledged=%d found=%d lost=%d "
                        + "stored-without-answer=%d reused-sequences=%d per-cycle=%s%n",
                seed, kills, ledger.size(), v.found(), v.lost().size(), v.storedWithoutAnswer(),
                ledger.reused.size(), perCycle);
        v.assertNothingLost(ledger);
        assertTrue(ledger.size() >= kills * 200, "load reached every kill: " + ledger.size());
    }

    @Test
    void sigtermWhilePublishingExitsZeroAndKeepsEveryAcknowledgedMessage() throws Exception {
        Path data = dir.resolve("data");
        var ledger = new Ledger();
        BrokerProcess child = serve(data);
        Load.Outcome outcome;
        try (var load = new Load(child.port(), 0, ledger, STOPPED)) {
            load.awaitAcks(300);
            child.process.destroy();   // SIGTERM while the publishers keep going
            assertEquals(0, child.awaitExit(EXIT), "exit code after SIGTERM");
            load.awaitStopped();
            outcome = new Load.Outcome(load.acked(), load.failed(), List.copyOf(load.unexpected()));
        }
        assertTrue(outcome.unexpected().isEmpty(), "failures other than UNAVAILABLE: " + outcome.unexpected());

        Verdict v = verify(data, ledger);
        System.out.printf("DurabilityIT sigterm: acknowledged=%d found=%d lost=%d unanswered=%d "
                        + "stored-without-answer=%d%n",
                ledger.size(), v.found(), v.lost().size(), outcome.failed(), v.storedWithoutAnswer());
        v.assertNothingLost(ledger);
    }

    // ---- command line ----

    @Test
    void serveHelpListsEveryFlagWithItsEnvironmentVariableAndDefault() throws Exception {
        BrokerProcess help = start(List.of("serve", "--help"), Map.of());
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
        BrokerProcess child = start(List.of("serve", "--port", "0", "--max-batch-bytes", "65536"), env);
        String banner = child.awaitBanner();

        assertTrue(banner.contains("data in " + data), "banner names the data directory: " + banner);
        assertTrue(banner.contains("serving gRPC on 127.0.0.1:"), "SLUICE_HOST: " + banner);
        assertTrue(banner.contains("metrics off"), "SLUICE_METRICS_PORT=0: " + banner);
        assertTrue(banner.contains("message 2048 B"), "SLUICE_MAX_MESSAGE_BYTES: " + banner);
        assertTrue(banner.contains("batch 65536 B"), "--max-batch-bytes beats SLUICE_MAX_BATCH_BYTES: " + banner);
        try (var channel = new Channel(child.port())) {
            var e = assertThrows(StatusRuntimeException.class,
                    () -> channel.stub().publish(request("t", new byte[2049])));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), "the limit from the environment");
            channel.stub().publish(request("t", new byte[2048]));
        }
        child.process.destroy();
        assertEquals(0, child.awaitExit(EXIT));
        assertTrue(Files.exists(data.resolve(SqliteStore.FILE_NAME)), "the database is where SLUICE_DATA_DIR says");
    }

    @Test
    void startingOnADamagedDatabaseExitsNonZeroNamingTheFile() throws Exception {
        Path data = Files.createDirectories(dir.resolve("damaged"));
        Path file = data.resolve(SqliteStore.FILE_NAME);
        Files.copy(FIXTURES.resolve("damaged-btree.db"), file);
        file.toFile().setWritable(true);

        BrokerProcess child = start(List.of("serve", "--port", "0", "--metrics-port", "0", "--host", "127.0.0.1",
                "--data-dir", data.toString(), "--log-level", "warn"), Map.of());
        int code = child.awaitExit(EXIT);

        assertNotEquals(0, code, "exit code on a damaged database");
        assertTrue(child.stderr().contains(file.toAbsolutePath().toString()),
                "the refusal names " + file + ":\n" + child.stderr());
        assertTrue(child.stdout().lines().noneMatch(l -> BrokerProcess.BANNER.matcher(l).matches()), "it never served");
    }

    // ---- verification ----

    /** What the data directory held: messages found, acknowledged ones missing, and ones stored without an answer. */
    private record Verdict(int found, List<String> lost, int storedWithoutAnswer) {
        /** Fails the test when an acknowledged message is missing or a sequence was acknowledged twice. */
        void assertNothingLost(Ledger ledger) {
            assertTrue(lost.isEmpty(), lost.size() + " acknowledged messages lost, e.g. "
                    + lost.subList(0, Math.min(10, lost.size())));
            assertTrue(ledger.reused.isEmpty(), "sequences acknowledged twice (they are never reused): "
                    + ledger.reused);
        }
    }

    /**
     * Opens the data directory with the real store and reads every topic from the start: every
     * acknowledged message must be there once, at its sequence, in its topic, with its payload and
     * attributes; nothing may be there that was never published.
     */
    private static Verdict verify(Path data, Ledger ledger) {
        var found = new HashMap<Long, StoredMessage>();
        var topicOf = new HashMap<Long, String>();
        var keys = new HashMap<String, Integer>();
        try (SqliteStore store = SqliteStore.open(data, SqliteStore.Options.defaults())) {
            for (TopicInfo topic : store.topics()) {
                long after = 0;
                while (true) {
                    List<StoredMessage> page = store.read(topic.name(), after, 1000);
                    if (page.isEmpty()) {
                        break;
                    }
                    for (StoredMessage m : page) {
                        assertTrue(m.sequence() > after, "sequences increase in " + topic.name() + ": " + m.sequence()
                                + " after " + after);
                        after = m.sequence();
                        assertEquals(null, found.put(m.sequence(), m), "sequence " + m.sequence() + " stored twice");
                        topicOf.put(m.sequence(), topic.name());
                        keys.merge(Ledger.key(m.payload()), 1, Integer::sum);
                    }
                }
            }
        }
        keys.forEach((key, count) -> {
            assertEquals(1, count, "payload " + key + " is stored exactly once");
            assertTrue(ledger.attempted.contains(key), "payload " + key + " was published by this test");
        });
        var lost = new ArrayList<String>();
        for (Acked a : ledger.acked.values()) {
            StoredMessage m = found.get(a.sequence());
            if (m == null || !m.payload().equals(a.payload())) {
                lost.add(a.key() + " acknowledged at " + a.sequence()
                        + (m == null ? " is missing" : " was replaced by " + Ledger.key(m.payload())));
                continue;
            }
            assertEquals(a.topic(), topicOf.get(a.sequence()), "topic of " + a.key());
            assertEquals(a.id(), m.id().toString(), "id of " + a.key());
            assertEquals(Map.of("writer", a.key()), m.attributes(), "attributes of " + a.key());
        }
        return new Verdict(found.size(), lost, found.size() - (ledger.size() - lost.size()));
    }

    // ---- load ----

    private record Acked(String key, String topic, String id, long sequence, ByteString payload) {
    }

    /** What the publishers tried and what the broker acknowledged, across broker incarnations. */
    private static final class Ledger {
        /** Acknowledged publishes by payload key; not by sequence, so that a reused sequence cannot hide a loss. */
        final ConcurrentHashMap<String, Acked> acked = new ConcurrentHashMap<>();
        final ConcurrentHashMap<Long, String> sequences = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<String> reused = new ConcurrentLinkedQueue<>();
        final Set<String> attempted = ConcurrentHashMap.newKeySet();

        void ack(Acked a) {
            acked.put(a.key(), a);
            String earlier = sequences.putIfAbsent(a.sequence(), a.key());
            if (earlier != null) {
                reused.add(a.sequence() + " (" + earlier + ", then " + a.key() + ")");
            }
        }

        int size() {
            return acked.size();
        }

        /** The unique text before '|' that starts every payload. */
        static String key(ByteString payload) {
            String s = payload.toString(StandardCharsets.ISO_8859_1);
            int bar = s.indexOf('|');
            return bar < 0 ? s : s.substring(0, bar);
        }
    }

    /**
     * {@value PUBLISHERS} threads publishing unique payloads to a few topics over one channel until
     * their first failure (the kill) or until stopped; each acknowledged publish goes into the ledger.
     */
    private static final class Load implements AutoCloseable {
        record Outcome(int acked, int failed, List<String> unexpected) {
        }

        private final Channel channel;
        private final Semaphore acks = new Semaphore(0);
        private final AtomicInteger ackCount = new AtomicInteger();
        private final AtomicInteger failedCount = new AtomicInteger();
        private final ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean stop;

        private final Set<Status.Code> expectedFailures;

        Load(int port, int cycle, Ledger ledger, Set<Status.Code> expectedFailures) {
            this.channel = new Channel(port);
            this.expectedFailures = expectedFailures;
            for (int t = 0; t < PUBLISHERS; t++) {
                int id = t;
                threads.add(Thread.ofPlatform().daemon().name("publisher-" + t).start(
                        () -> publishUntilFailure(cycle, id, ledger)));
            }
        }

        private void publishUntilFailure(int cycle, int thread, Ledger ledger) {
            var stub = channel.stub();
            for (int n = 0; !stop; n++) {
                String key = "p" + thread + "-c" + cycle + "-" + n;
                byte[] tail = new byte[24];
                ThreadLocalRandom.current().nextBytes(tail);
                ByteString payload = ByteString.copyFromUtf8(key + "|").concat(ByteString.copyFrom(tail));
                String topic = TOPICS.get((thread + n) % TOPICS.size());
                ledger.attempted.add(key);
                PublishResponse r;
                try {
                    r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
                            .setTopic(topic).setPayload(payload).putAttributes("writer", key).build());
                } catch (StatusRuntimeException e) {
                    failedCount.incrementAndGet();
                    if (!expectedFailures.contains(e.getStatus().getCode())) {
                        unexpected.add(key + ": " + e.getStatus());
                    }
                    return;   // the broker is gone: this incarnation's load ends here
                }
                ledger.ack(new Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
                ackCount.incrementAndGet();
                acks.release();
            }
        }

        /** Waits until the load has had {@code n} acknowledgements in this incarnation. */
        void awaitAcks(int n) throws InterruptedException {
            assertTrue(acks.tryAcquire(n, 60, TimeUnit.SECONDS), "the load reached " + n + " acknowledgements ("
                    + ackCount.get() + " so far; unexpected failures: " + unexpected + ")");
        }

        /** Asks the publishers to stop after their current publish, and waits for them. */
        void stopAndAwait() throws InterruptedException {
            stop = true;
            awaitStopped();
        }

        /** Waits for every publisher to end (after its first failure, or when stopped). */
        void awaitStopped() throws InterruptedException {
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(30));
                if (t.isAlive()) {
                    fail(t.getName() + " did not end within 30 s");
                }
            }
        }

        int acked() {
            return ackCount.get();
        }

        int failed() {
            return failedCount.get();
        }

        ConcurrentLinkedQueue<String> unexpected() {
            return unexpected;
        }

        @Override
        public void close() {
            stop = true;
            channel.close();
            try {
                awaitStopped();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A plaintext channel to a child broker on this machine. */
    private static final class Channel implements AutoCloseable {
        private final ManagedChannel channel;

        Channel(int port) {
            channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        }

        SluiceGrpc.SluiceBlockingStub stub() {
            return SluiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        }

        @Override
        public void close() {
            channel.shutdownNow();
            try {
                channel.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static PublishRequest request(String topic, byte[] payload) {
        return PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFrom(payload)).build();
    }

    // ---- child processes ----

    /** {@code serve} on a free port, loopback only, metrics off; waits for its banner. */
    private BrokerProcess serve(Path data) throws IOException {
        BrokerProcess child = BrokerProcess.serve(dir, data, List.of());
        children.add(child);
        return child;
    }

    /** Starts {@code java -Xmx128m -jar sluice.jar args...} with no SLUICE_ or OTEL_ variables but {@code env}. */
    private BrokerProcess start(List<String> args, Map<String, String> env) throws IOException {
        BrokerProcess child = BrokerProcess.start(dir, List.of("-Xmx128m"), args, env);
        children.add(child);
        return child;
    }

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
