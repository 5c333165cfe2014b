package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.function.DoublePredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scrapes the real Prometheus endpoint and checks each metric's presence and value. */
class MetricsEndpointTest {
    @TempDir
    Path dir;

    private TestBroker broker;
    private int metricsPort;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws IOException {
        try (var socket = new ServerSocket(0)) {
            metricsPort = socket.getLocalPort();
        }
        broker = TestBroker.start(dir, c -> c.withPorts(0, metricsPort));
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    private String scrape() throws IOException, InterruptedException {
        var response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode());
        return response.body();
    }

    /** The value of the first sample of {@code name} whose labels contain every {@code labels} pair. */
    private static OptionalDouble sample(String body, String name, String... labels) {
        Pattern line = Pattern.compile("^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)", Pattern.MULTILINE);
        Matcher m = line.matcher(body);
        while (m.find()) {
            boolean all = true;
            for (int i = 0; i < labels.length; i += 2) {
                all &= m.group(1).contains(labels[i] + "=\"" + labels[i + 1] + "\"");
            }
            if (all) {
                return OptionalDouble.of(Double.parseDouble(m.group(2)));
            }
        }
        return OptionalDouble.empty();
    }

    /** Scrapes until the sample satisfies {@code expected} (gauges are read at scrape time, counters after commit). */
    private double awaitSample(String name, DoublePredicate expected, String... labels)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + StreamClient.WAIT.toNanos();
        String body = "";
        while (System.nanoTime() < deadline) {
            body = scrape();
            OptionalDouble v = sample(body, name, labels);
            if (v.isPresent() && expected.test(v.getAsDouble())) {
                return v.getAsDouble();
            }
            Thread.sleep(20);   // polling the endpoint; no timing is asserted
        }
        throw new AssertionError(name + " " + List.of(labels) + " never matched; last scrape:\n" + body);
    }

    @Test
    void everyMetricIsExposedWithItsValue() throws Exception {
        var client = broker.blocking();
        var sent = new ArrayList<PublishResponse>();
        for (int i = 0; i < 7; i++) {
            sent.add(client.publish(PublishRequest.newBuilder().setTopic("orders")
                    .setPayload(ByteString.copyFromUtf8("m" + i)).build()));
        }
        long last = sent.getLast().getSequence();

        // A starved stream: messages wait, no credit.
        var s = StreamClient.group(broker.async(), "orders", "billing", InitialPosition.EARLIEST);
        s.expectHeartbeatWithoutDelivery(last);
        awaitSample("sluice_backpressure_active", v -> v == 1.0, "topic", "orders", "group", "billing");
        awaitSample("sluice_subscription_lag", v -> v == last, "topic", "orders", "group", "billing");

        s.credit(3);
        var d = new ArrayList<String>();
        for (int i = 0; i < 3; i++) {
            d.add(s.delivery().getMessageId());
        }
        s.ack(d.get(2));
        long cursor = sent.get(2).getSequence();
        awaitSample("sluice_subscription_lag", v -> v == last - cursor, "topic", "orders", "group", "billing");
        s.credit(100);
        for (int i = 3; i < 7; i++) {
            s.delivery();
        }
        awaitSample("sluice_backpressure_active", v -> v == 0.0, "topic", "orders", "group", "billing");

        String body = scrape();
        assertEquals(7.0, sample(body, "sluice_publish_total", "topic", "orders").orElseThrow());
        assertEquals(7.0, sample(body, "sluice_publish_latency_seconds_count", "topic", "orders").orElseThrow());
        assertEquals(7.0, sample(body, "sluice_delivered_total", "topic", "orders", "group", "billing").orElseThrow());
        assertEquals(1.0, sample(body, "sluice_acked_total", "topic", "orders", "group", "billing").orElseThrow());
        assertEquals(1.0, sample(body, "sluice_streams_active").orElseThrow());
        assertTrue(sample(body, "sluice_writer_batch_size_count").orElseThrow() >= 1);
        assertTrue(sample(body, "sluice_writer_commit_latency_seconds_count").orElseThrow() >= 1);
        assertTrue(sample(body, "sluice_writer_queue_depth").isPresent());
        assertTrue(sample(body, "sluice_database_size_bytes").orElseThrow() > 0);
        assertTrue(sample(body, "sluice_wal_size_bytes").isPresent());
        assertEquals(1.0, sample(body, "sluice_build").orElseThrow());
        assertTrue(body.contains("sluice_publish_latency_seconds_bucket{"), "latency is a histogram");
        assertTrue(!body.contains("message_id"), "no unbounded labels");

        // A nack of a delivered, unacknowledged message and the redelivery it causes are counted.
        s.nack(sent.get(3).getMessageId(), 0);
        assertEquals(sent.get(3).getSequence(), s.delivery().getSequence());
        awaitSample("sluice_nacked_total", v -> v == 1.0, "topic", "orders", "group", "billing");
        awaitSample("sluice_redelivered_total", v -> v == 1.0, "topic", "orders", "group", "billing");

        s.cancel();
        awaitSample("sluice_streams_active", v -> v == 0.0);
        // Lag is reported for groups without a live stream too.
        awaitSample("sluice_subscription_lag", v -> v == last - cursor, "topic", "orders", "group", "billing");
    }
}
