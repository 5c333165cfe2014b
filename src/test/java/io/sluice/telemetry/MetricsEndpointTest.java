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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.OptionalDouble;
import java.util.function.DoublePredicate;
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
    private MetricsScrape metrics;

    @BeforeEach
    void start() throws IOException {
        metricsPort = MetricsScrape.freePort();
        metrics = new MetricsScrape(metricsPort);
        broker = TestBroker.start(dir, c -> c.withPorts(0, metricsPort));
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    private String scrape() throws IOException, InterruptedException {
        return metrics.scrape();
    }

    private static OptionalDouble sample(String body, String name, String... labels) {
        return MetricsScrape.sample(body, name, labels);
    }

    private double awaitSample(String name, DoublePredicate expected, String... labels)
            throws IOException, InterruptedException {
        return metrics.awaitSample(name, expected, labels);
    }

    @Test
    void settlesFromAStreamWhoseLeaseExpiredAreCountedIgnoredAndNotAsNacks() throws Exception {
        String id = broker.blocking().publish(PublishRequest.newBuilder().setTopic("late")
                .setPayload(ByteString.copyFromUtf8("job")).build()).getMessageId();
        var cfg = io.sluice.proto.ConsumerGroupConfig.newBuilder().setAckWaitMs(200).addBackoffMs(60_000).build();
        try (var slow = StreamClient.shared(broker.async(), "late", "g", cfg)) {
            slow.credit(1);
            assertEquals(id, slow.delivery().getMessageId());
            long leased = System.nanoTime();
            io.sluice.Await.until("the lease expired", () -> System.nanoTime() - leased > 400_000_000L);
            slow.term(id, "too late");
            slow.nack(id, 0);
            slow.inProgress(id);
            slow.ack(id);
            slow.sync(1);
            assertEquals(1, slow.synced());
        }
        awaitSample("sluice_acks_ignored_total", v -> v == 4.0, "topic", "late", "group", "g");
        assertTrue(sample(scrape(), "sluice_nacked_total", "topic", "late", "group", "g").orElse(0) == 0,
                "a nack the stream could not make is not counted as one");
    }

    @Test
    void onlyGetAndHeadAreAnsweredOnTheMetricsPort() throws Exception {
        var http = java.net.http.HttpClient.newHttpClient();
        for (String path : new String[] {"/metrics", "/", "/api/overview"}) {
            for (String method : new String[] {"POST", "PUT", "DELETE", "OPTIONS"}) {
                var response = http.send(java.net.http.HttpRequest.newBuilder(
                                java.net.URI.create("http://127.0.0.1:" + metricsPort + path))
                        .method(method, java.net.http.HttpRequest.BodyPublishers.ofString("x")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertEquals(405, response.statusCode(), method + " " + path);
                assertEquals("GET, HEAD", response.headers().firstValue("Allow").orElse(""), method + " " + path);
            }
        }
        assertTrue(scrape().contains("sluice_"), "GET still answers");
    }

    @Test
    void aPeekAtATopicNameTheBrokerRefusesIsABadRequestNamingTheRule() throws Exception {
        var response = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + metricsPort + "/api/peek?topic=a%20b&count=1"))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(400, response.statusCode(), response.body());
        assertTrue(response.body().contains("a b") && response.body().contains("error"), response.body());
    }

    @Test
    void everyMetricIsExposedWithItsValue() throws Exception {
        var client = broker.blocking();
        for (int i = 0; i < 50; i++) {   // sequences are numbered across topics: orders' start past these
            client.publish(PublishRequest.newBuilder().setTopic("elsewhere").setPayload(ByteString.copyFromUtf8("x"))
                    .build());
        }
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
        awaitSample("sluice_subscription_lag", v -> v == 7, "topic", "orders", "group", "billing");

        s.credit(3);
        var d = new ArrayList<String>();
        for (int i = 0; i < 3; i++) {
            d.add(s.delivery().getMessageId());
        }
        s.ack(d.get(2));
        awaitSample("sluice_subscription_lag", v -> v == 4, "topic", "orders", "group", "billing");
        s.credit(100);
        for (int i = 3; i < 7; i++) {
            s.delivery();
        }
        awaitSample("sluice_backpressure_active", v -> v == 0.0, "topic", "orders", "group", "billing");
        // The broker counts a delivery after it has sent it, and an ack after handing it to the writer: the
        // client may have both before the counters do.
        awaitSample("sluice_delivered_total", v -> v == 7.0, "topic", "orders", "group", "billing");
        // one cumulative ack of the third delivery settled the three: three messages acknowledged
        awaitSample("sluice_acked_total", v -> v == 3.0, "topic", "orders", "group", "billing");

        String body = scrape();
        assertEquals(7.0, sample(body, "sluice_publish_total", "topic", "orders").orElseThrow());
        assertEquals(57.0, sample(body, "sluice_publish_latency_seconds_count").orElseThrow());   // all topics
        assertEquals(7.0, sample(body, "sluice_delivered_total", "topic", "orders", "group", "billing").orElseThrow());
        assertEquals(3.0, sample(body, "sluice_acked_total", "topic", "orders", "group", "billing").orElseThrow());
        assertEquals(1.0, sample(body, "sluice_streams_active").orElseThrow());
        assertTrue(sample(body, "sluice_writer_batch_size_count").orElseThrow() >= 1);
        assertTrue(sample(body, "sluice_writer_commit_latency_seconds_count").orElseThrow() >= 1);
        assertTrue(sample(body, "sluice_writer_queue_depth").isPresent());
        assertTrue(sample(body, "sluice_database_size_bytes").orElseThrow() > 0);
        assertTrue(sample(body, "sluice_wal_size_bytes").isPresent());
        assertEquals(1.0, sample(body, "sluice_build_info").orElseThrow());
        assertTrue(sample(body, "grpc_server_call_duration_seconds_count", "grpc_method", "sluice.v1.Sluice/Publish",
                "grpc_status", "OK").orElseThrow() >= 7, "gRPC calls by method and status");
        assertTrue(sample(body, "jvm_memory_used_bytes").isPresent(), "JVM metrics");
        assertTrue(sample(body, "jvm_cpu_time_seconds_total").isPresent(), "process CPU");
        assertTrue(!body.contains("otel_scope_"), "no scope labels on every series");
        assertTrue(body.contains("sluice_publish_latency_seconds_bucket{"), "latency is a histogram");
        assertTrue(!body.contains("message_id"), "no unbounded labels");

        // A nack of a delivered, unacknowledged message and the redelivery it causes are counted.
        s.nack(sent.get(3).getMessageId(), 0);
        assertEquals(sent.get(3).getSequence(), s.delivery().getSequence());
        awaitSample("sluice_nacked_total", v -> v == 1.0, "topic", "orders", "group", "billing");
        awaitSample("sluice_redelivered_total", v -> v == 1.0, "topic", "orders", "group", "billing");

        // Every metric the Grafana dashboard in the repository queries is in the scrape.
        System.gc();   // the GC duration histogram has samples once a collection's notification arrived
        String dashboard = java.nio.file.Files.readString(Path.of("docs", "grafana", "sluice-dashboard.json"));
        String now = metrics.awaitScrape(b -> b.contains("\njvm_gc_duration_seconds_sum"), "a collection recorded");
        var names = java.util.regex.Pattern.compile("\\b((?:sluice|grpc|jvm)_[a-z_]+)\\{").matcher(dashboard);
        int checked = 0;
        while (names.find()) {
            assertTrue(now.contains("\n" + names.group(1) + "{") || now.contains("\n" + names.group(1) + " "),
                    "the dashboard's " + names.group(1) + " is exposed");
            checked++;
        }
        assertTrue(checked >= 15, "the dashboard's queries were read: " + checked);

        s.cancel();
        awaitSample("sluice_streams_active", v -> v == 0.0);
        // Lag is reported for groups without a live stream too.
        awaitSample("sluice_subscription_lag", v -> v == 4, "topic", "orders", "group", "billing");
    }
}
