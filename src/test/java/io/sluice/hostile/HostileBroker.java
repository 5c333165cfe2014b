package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sluice.BrokerProcess;
import io.sluice.Contents;
import io.sluice.Ledger;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.TopicStats;
import io.sluice.server.StreamClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One broker from the built jar, started as an operator starts it ({@code -Xmx128m} and the
 * project's JVM options from {@code scripts/jvm-opts}), plus what every hostile-client case ends
 * with: {@link #finish} checks that the process is alive, health says SERVING, a Publish is
 * answered and a Subscribe delivers it, the peak RSS stayed under {@link #RSS_BOUND_MB}, no
 * OutOfMemoryError was logged, and every acknowledged message in the ledger is still served; it
 * records a row of {@link HostileFigures} whether the checks pass or not. Thread-safe where noted.
 */
final class HostileBroker implements AutoCloseable {
    /** The documented bound on the broker's resident set (docs/soak.md). */
    static final long RSS_BOUND_MB = 450;
    /** The generous deadline of every single call a check makes. */
    static final Duration CALL = Duration.ofSeconds(10);
    static final String LEDGER_TOPIC = "hostile.ledger";
    static final String PROBE_TOPIC = "hostile.probe";

    final Path data;
    final BrokerProcess process;
    /** A channel with a 64 MiB inbound limit, for the harness's own reads. */
    final ManagedChannel channel;
    final Ledger ledger;
    private final Set<String> ledgerTopics = ConcurrentHashMap.newKeySet();
    /** Topics of big messages, read back a few at a time; the others 256 at a time. */
    private final Set<String> bigTopics = ConcurrentHashMap.newKeySet();
    private final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();
    private final List<String> caseFailures = new CopyOnWriteArrayList<>();
    private SmallPublisher background;
    private int probes;

    private HostileBroker(Path data, BrokerProcess process, HostileBroker before) {
        this.data = data;
        this.process = process;
        this.channel = track(process.channel());
        ledgerTopics.add(LEDGER_TOPIC);
        ledgerTopics.add(PROBE_TOPIC);
        if (before != null) {
            ledger = before.ledger;
            ledgerTopics.addAll(before.ledgerTopics);
            bigTopics.addAll(before.bigTopics);
            caseFailures.addAll(before.caseFailures);
            probes = before.probes;
        } else {
            ledger = new Ledger();
        }
    }

    /** {@code serve} from the jar with the operator's JVM options, data in {@code dir/data}, plus {@code args}. */
    static HostileBroker start(Path dir, String... args) throws IOException {
        Path data = dir.resolve("data");
        return new HostileBroker(data, BrokerProcess.serve(dir, data, jvmOptions(), List.of(args)), null);
    }

    /**
     * Stops this broker with SIGTERM (it must exit 0) and starts a new one on the same data
     * directory with the same ledger and the checks failed so far.
     */
    HostileBroker restart(Path dir, String... args) throws IOException, InterruptedException {
        if (background != null) {
            background.close();
        }
        int code = process.terminate(Duration.ofSeconds(60));
        expect("exit code 0 after SIGTERM", () -> assertEquals(0, code, "exit code after SIGTERM"));
        close();
        return new HostileBroker(data, BrokerProcess.serve(dir, data, jvmOptions(), List.of(args)), this);
    }

    /** Something the case expects, checked now; a failure is reported by {@link #finish}. Thread-safe. */
    void expect(String what, Check check) {
        check(caseFailures, what, check);
    }

    /** True once a check of the case has failed: a soak stops repeating an attack that already failed. */
    boolean failedSoFar() {
        return !caseFailures.isEmpty();
    }

    /** A failure of the case, reported by {@link #finish}. Thread-safe. */
    void failure(String what) {
        caseFailures.add(what);
    }

    private static List<String> jvmOptions;   // guarded by HostileBroker.class

    /** {@code -Xmx128m} and what {@code scripts/jvm-opts} prints for the java the jar runs on (asked once). */
    static synchronized List<String> jvmOptions() throws IOException {
        if (jvmOptions == null) {
            jvmOptions = askJvmOptions();
        }
        return jvmOptions;
    }

    private static List<String> askJvmOptions() throws IOException {
        Path script = Path.of(System.getProperty("basedir", ".")).resolve("scripts/jvm-opts");
        var child = new ProcessBuilder("sh", script.toString(), BrokerProcess.JAVA).redirectErrorStream(true).start();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "scripts/jvm-opts ended");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        assertEquals(0, child.exitValue(), "scripts/jvm-opts: " + out);
        var options = new ArrayList<>(List.of("-Xmx128m"));
        options.addAll(List.of(out.split("\\s+")));
        return List.copyOf(options);
    }

    /** The broker's gRPC port. */
    int port() {
        return process.port();
    }

    /** A channel with a default client's limits (4 MiB inbound), closed with the broker. Thread-safe. */
    ManagedChannel defaultChannel() {
        return track(NettyChannelBuilder.forAddress("127.0.0.1", process.port()).usePlaintext().build());
    }

    private ManagedChannel track(ManagedChannel c) {
        channels.add(c);
        return c;
    }

    /** Starts a publisher of small ledger messages, one at a time, until {@link #finish}. */
    void startBackground() {
        background = new SmallPublisher(defaultChannel(), ledger, LEDGER_TOPIC);
    }

    /** Counts {@code topic} as one whose every message the ledger accounts for. Thread-safe. */
    void ledgerTopic(String topic) {
        ledgerTopics.add(topic);
    }

    /** {@link #ledgerTopic}, for a topic of messages of megabytes: read back a few at a time. Thread-safe. */
    void bigLedgerTopic(String topic) {
        bigTopics.add(topic);
        ledgerTopics.add(topic);
    }

    /** No longer counts {@code topic} (a topic deleted on purpose, its acknowledgements forgotten). Thread-safe. */
    void forgetTopic(String topic) {
        ledgerTopics.remove(topic);
    }

    /** Publishes one ledger message of {@code size} bytes to {@code topic} and records its answer. Thread-safe. */
    PublishResponse publish(ManagedChannel via, String topic, String key, int size) {
        return publish(via, topic, key, size, CALL);
    }

    /** {@link #publish(ManagedChannel, String, String, int)} with this deadline. Thread-safe. */
    PublishResponse publish(ManagedChannel via, String topic, String key, int size, Duration deadline) {
        return publish(via, topic, key, size <= 0 ? ledger.attempt(key) : ledger.attempt(key, size), deadline);
    }

    /** Publishes {@code payload}, made by the ledger's {@code attempt(key, ...)}, and records its answer. Thread-safe. */
    PublishResponse publish(ManagedChannel via, String topic, String key, ByteString payload, Duration deadline) {
        ledgerTopic(topic);
        PublishResponse r = SluiceGrpc.newBlockingStub(via).withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .publish(PublishRequest.newBuilder().setTopic(topic).setPayload(payload).putAttributes("writer", key)
                        .build());
        ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
        return r;
    }

    /** The health service's answer for {@code service} ("" = the server), within {@link #CALL}. */
    ServingStatus health(String service) {
        return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(CALL.toMillis(), TimeUnit.MILLISECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }

    /** The peak resident set of the broker so far, in MiB. */
    long peakRssMb() {
        return process.peakRssKiB() / 1024;
    }

    /**
     * Ends a case: stops the background publisher, runs every check, records the row
     * ({@code tried} hostile requests, {@code figure} the case's figure of interest) and fails
     * the test naming every check that failed.
     */
    void finish(String name, long tried, String figure) throws InterruptedException {
        var failures = new ArrayList<String>();
        if (background != null) {
            background.close();
            if (!background.failures().isEmpty()) {
                failures.add(background.failures().size() + " of " + background.tried()
                        + " small publishes during the attack failed, e.g. " + background.failures().getFirst());
            }
        }
        boolean alive = process.process().isAlive();
        if (!alive) {
            failures.add("the broker died (exit " + process.process().exitValue() + ")");
        }
        boolean serving = alive && check(failures, "health", () -> {
            for (String service : List.of("", SluiceGrpc.SERVICE_NAME)) {
                assertEquals(ServingStatus.SERVING, health(service), "health of '" + service + "'");
            }
        });
        boolean answering = alive && check(failures, "a Publish answered and a Subscribe delivering it", this::probe);
        if (serving && !answering) {
            failures.add("health is not truthful: SERVING while the probe above fails");
        }
        long rss = peakRssMb();
        if (rss > RSS_BOUND_MB) {
            failures.add("peak RSS " + rss + " MiB is over the bound of " + RSS_BOUND_MB + " MiB");
        }
        if (process.stderr().contains("OutOfMemoryError")) {
            failures.add("OutOfMemoryError in the broker's stderr");
        }
        long lost = -1;
        try {
            Map<String, List<Ledger.Seen>> held;
            if (answering) {
                held = served();
            } else {
                process.kill();   // wedged or dead: what it acknowledged must be in its data directory
                held = new LinkedHashMap<>(Contents.ofDataDir(data));
                held.keySet().retainAll(ledgerTopics);
            }
            Ledger.Verdict v = ledger.verify(held);
            lost = v.lost().size();
            v.assertNothingLost(ledger);
        } catch (AssertionError | RuntimeException e) {
            failures.add("ledger: " + e.getMessage());
        }
        failures.addAll(caseFailures);   // after the broker-wide checks, which say more at a glance
        HostileFigures.record(new HostileFigures.Row(name, tried, alive, rss, ledger.size(), lost, figure,
                failures.isEmpty() ? "ok" : "FAILED"));
        if (!failures.isEmpty()) {
            var shown = failures.stream().limit(12).map(f -> f.length() <= 400 ? f : f.substring(0, 397) + "...")
                    .toList();
            throw new AssertionError(name + ": " + failures.size() + " check(s) failed:\n- " + String.join("\n- ", shown)
                    + (failures.size() > shown.size() ? "\n- ... and " + (failures.size() - shown.size()) + " more" : "")
                    + "\n--- last lines of the broker's stderr (" + process.stderrLines() + " lines):\n"
                    + process.stderrTail(30));
        }
    }

    /** A check: throws (an assertion, a gRPC status) when it does not hold. */
    interface Check {
        void run() throws Exception;
    }

    private static boolean check(List<String> failures, String what, Check check) {
        try {
            check.run();
            return true;
        } catch (StatusRuntimeException e) {
            failures.add(what + ": " + e.getStatus());
        } catch (Exception | AssertionError e) {
            failures.add(what + ": " + e);
        }
        return false;
    }

    /** Publishes a message and reads it back through a BROWSE Subscribe from its sequence. */
    void probe() throws InterruptedException {
        String key = "probe-" + probes++;
        PublishResponse r = publish(channel, PROBE_TOPIC, key, 0);
        try (var s = StreamClient.browse(SluiceGrpc.newStub(channel), PROBE_TOPIC, InitialPosition.OFFSET,
                r.getSequence())) {
            s.credit(1);
            MessageDelivery d = s.delivery();
            assertEquals(r.getSequence(), d.getSequence(), "the probe's sequence");
            assertEquals(key, Ledger.key(d.getPayload()), "the probe delivered");
        }
    }

    /**
     * Every message of the ledger's topics as the broker serves it: a BROWSE stream per topic from
     * its first message to its last sequence, granting credit a window at a time (4 messages where
     * payloads are 4 MiB each).
     */
    Map<String, List<Ledger.Seen>> served() throws InterruptedException {
        var out = new LinkedHashMap<String, List<Ledger.Seen>>();
        var blocking = SluiceGrpc.newBlockingStub(channel);
        for (String topic : ledgerTopics) {
            List<TopicStats> stats;
            try {
                stats = blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build()).getStatsList();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
                    throw e;
                }
                stats = List.of();   // never created (or deleted): holds nothing
            }
            var seen = new ArrayList<Ledger.Seen>();
            if (!stats.isEmpty() && stats.getFirst().getTotalMessages() > 0) {
                int window = bigTopics.contains(topic) ? 4 : 256;
                try (var s = StreamClient.browse(SluiceGrpc.newStub(channel), topic, InitialPosition.EARLIEST, 0)) {
                    s.credit(window);
                    long last = 0;
                    while (last < stats.getFirst().getLastSequence()) {
                        MessageDelivery d = s.delivery();
                        if ((seen.size() + 1) % (window / 2) == 0) {
                            s.credit(window / 2);   // replenished in halves: at most one window in flight
                        }
                        seen.add(new Ledger.Seen(topic, d.getSequence(), d.getMessageId(), d.getPayload(),
                                d.getAttributesMap()));
                        last = d.getSequence();
                    }
                }
                assertEquals(stats.getFirst().getTotalMessages(), seen.size(), "messages served from " + topic);
            }
            out.put(topic, seen);
        }
        return out;
    }

    /** Closes the channels and kills the broker if it still runs. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        if (background != null) {
            background.close();
        }
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
            c.awaitTermination(10, TimeUnit.SECONDS);
        }
        process.kill();
    }
}
