package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.sluice.Await;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.server.ServerConfig;
import io.sluice.server.SluiceServer;
import io.sluice.server.StreamClient;
import io.sluice.proto.SluiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A producer's traceparent makes the broker's publish and delivery spans part of its trace. */
class TracingTest {
    private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String PARENT_ID = "00f067aa0ba902b7";
    private static final String TRACEPARENT = "00-" + TRACE_ID + "-" + PARENT_ID + "-01";

    @TempDir
    Path dir;

    private final InMemorySpanExporter spans = InMemorySpanExporter.create();
    private SluiceServer server;
    private ManagedChannel channel;

    @BeforeEach
    void start() {
        var config = ServerConfig.defaults(dir).withHost("127.0.0.1").withPorts(0, 0);
        server = SluiceServer.start(config, List.of(SimpleSpanProcessor.create(spans)));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }

    @Test
    void brokerSpansJoinTheProducersTraceAndTheTraceparentArrivesUntouched() throws Exception {
        var client = SluiceGrpc.newBlockingStub(channel);
        var published = client.publish(PublishRequest.newBuilder().setTopic("traced")
                .setPayload(ByteString.copyFromUtf8("hello"))
                .putAttributes("traceparent", TRACEPARENT)
                .putAttributes("tracestate", "vendor=1")
                .build());

        try (var s = StreamClient.group(SluiceGrpc.newStub(channel), "traced", "workers", InitialPosition.EARLIEST)) {
            s.credit(1);
            var delivery = s.delivery();
            assertEquals(TRACEPARENT, delivery.getAttributesMap().get("traceparent"));
            assertEquals("vendor=1", delivery.getAttributesMap().get("tracestate"));
        }

        SpanData publish = awaitSpan("publish traced");
        SpanData deliver = awaitSpan("deliver traced");
        for (SpanData span : List.of(publish, deliver)) {
            assertEquals(TRACE_ID, span.getTraceId(), span.getName() + " is in the producer's trace");
            assertEquals(PARENT_ID, span.getParentSpanId(), span.getName() + " is a child of the producer's span");
            assertEquals("sluice", span.getAttributes().get(Tracing.SYSTEM));
            assertEquals("traced", span.getAttributes().get(Tracing.DESTINATION));
            assertEquals(published.getMessageId(), span.getAttributes().get(Tracing.MESSAGE_ID));
        }
        assertEquals(SpanKind.PRODUCER, publish.getKind());
        assertEquals(SpanKind.CONSUMER, deliver.getKind());
        assertEquals("workers", deliver.getAttributes().get(Tracing.GROUP));
    }

    @Test
    void messagesWithoutTraceparentStartTheirOwnTrace() throws Exception {
        SluiceGrpc.newBlockingStub(channel).publish(PublishRequest.newBuilder().setTopic("plain")
                .setPayload(ByteString.copyFromUtf8("x")).build());
        SpanData publish = awaitSpan("publish plain");
        assertTrue(publish.getParentSpanContext().isValid() == false, "a root span");
    }

    /** The first finished span of that name; spans end on the broker's threads, so it is waited for. */
    private SpanData awaitSpan(String name) {
        Await.until("a span named " + name, () -> find(name) != null, spans::getFinishedSpanItems);
        return find(name);
    }

    private SpanData find(String name) {
        return spans.getFinishedSpanItems().stream().filter(s -> s.getName().equals(name)).findFirst().orElse(null);
    }
}
