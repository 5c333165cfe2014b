package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpServer;
import io.sluice.proto.PublishRequest;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** With an OTLP endpoint, metrics and traces are pushed to it over HTTP (a real HTTP collector stand-in). */
class OtlpExportTest {
    @TempDir
    Path dir;

    private HttpServer collector;
    private final Map<String, AtomicLong> bytesByPath = new ConcurrentHashMap<>();

    @AfterEach
    void stop() {
        if (collector != null) {
            collector.stop(0);
        }
    }

    @Test
    void metricsAndTracesReachTheCollector() throws IOException, InterruptedException {
        Telemetry.httpServerLimits();   // read once per process: the broker's settings, whoever is first
        collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        collector.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            bytesByPath.computeIfAbsent(exchange.getRequestURI().getPath(), p -> new AtomicLong()).addAndGet(body.length);
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        collector.start();
        String endpoint = "http://127.0.0.1:" + collector.getAddress().getPort();

        var broker = TestBroker.start(dir, c -> c.withOtlpEndpoint(endpoint));
        broker.blocking().publish(PublishRequest.newBuilder().setTopic("otlp")
                .setPayload(ByteString.copyFromUtf8("x"))
                .putAttributes("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").build());
        broker.close();   // shutdown flushes both exporters

        assertTrue(bytesByPath.getOrDefault("/v1/traces", new AtomicLong()).get() > 0, "traces: " + bytesByPath);
        assertTrue(bytesByPath.getOrDefault("/v1/metrics", new AtomicLong()).get() > 0, "metrics: " + bytesByPath);
    }
}
