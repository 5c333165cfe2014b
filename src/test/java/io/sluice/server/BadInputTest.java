package io.sluice.server;

import static io.sluice.RawHttp2.concat;
import static io.sluice.RawHttp2.frame;
import static io.sluice.RawHttp2.header;
import static io.sluice.RawHttp2.headerBlock;
import static io.sluice.RawHttp2.parse;
import static io.sluice.RawHttp2.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.sluice.Await;
import io.grpc.StatusRuntimeException;
import io.sluice.Cursors;
import io.sluice.delivery.Subscription;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.sluice.Figures;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input against a real broker: garbage and cut-off HTTP/2 frames on the gRPC port, every RPC
 * with extreme values (empty and huge names, NUL, text that is not UTF-8 sent as hand-built
 * protobuf, uint32 and uint64 maxima, thousands of attributes, unknown ids), and Subscribe
 * protocol violations. Each gets its status (or its connection closed), nothing is logged as an
 * error, and afterwards the broker is SERVING and publishes and delivers as before.
 */
@ExtendWith(Figures.class)
class BadInputTest {
    private static final String PREFACE = io.sluice.RawHttp2.PREFACE;
    private static final String PUBLISH = SluiceGrpc.getPublishMethod().getFullMethodName();
    private static final String SUBSCRIBE = SluiceGrpc.getSubscribeMethod().getFullMethodName();
    private static final String PUBLISH_STREAM = SluiceGrpc.getPublishStreamMethod().getFullMethodName();
    /** Not UTF-8: a lone continuation byte and an overlong NUL. */
    private static final byte[] NOT_UTF8 = {'a', (byte) 0x80, 'b', (byte) 0xC0, (byte) 0x80};

    @TempDir
    Path dir;

    private TestBroker broker;
    private LogRecorder logs;
    private int inputs;
    private final List<StreamClient> streams = new ArrayList<>();

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
        logs = LogRecorder.install();
    }

    @AfterEach
    void stillHealthyAndWorking() throws InterruptedException {
        try {
            streams.forEach(StreamClient::close);
            assertHealthyAndWorking();
            assertEquals(List.of(), logs.severe(), "expected client errors are not logged as errors");
            Figures.row("bad input: wire and RPC values").cycles(1).inputs(inputs);
        } finally {
            logs.close();
            broker.close();
        }
    }

    // ---- the wire ----

    @Test
    void garbageAndCutOffFramesOnTheGrpcPortCloseThatConnectionOnly() throws Exception {
        var random = new Random(6);
        byte[] noise = new byte[64 * 1024];
        random.nextBytes(noise);
        byte[] preface = PREFACE.getBytes(StandardCharsets.US_ASCII);
        Map<String, byte[]> cases = new java.util.LinkedHashMap<>();
        cases.put("64 KiB of random bytes", noise);
        cases.put("an HTTP/1.1 request", "GET / HTTP/1.1\r\nHost: sluice\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        cases.put("half a client preface", java.util.Arrays.copyOf(preface, 10));
        cases.put("a SETTINGS frame cut short",
                concat(preface, java.util.Arrays.copyOf(frame(4, 0, 0, new byte[36]), 20)));
        cases.put("a frame header announcing 100 bytes", concat(preface, settings(),
                java.util.Arrays.copyOf(frame(1, 4, 1, new byte[100]), 9)));
        cases.put("HEADERS with a garbage HPACK block", concat(preface, settings(),
                frame(1, 4 | 1, 1, java.util.Arrays.copyOf(noise, 64))));
        cases.put("a frame over the maximum frame size", concat(preface, settings(), header(0, 0, 1, 1 << 20)));
        cases.put("DATA on stream 0", concat(preface, settings(), frame(0, 0, 0, new byte[8])));
        cases.put("SETTINGS of an odd length", concat(preface, frame(4, 0, 0, new byte[7])));
        cases.put("a WINDOW_UPDATE of 0", concat(preface, settings(), frame(8, 0, 0, new byte[4])));
        var outcomes = new ArrayList<String>();
        for (var c : cases.entrySet()) {
            Frames answer = exchange(c.getValue(), true);
            assertTrue(answer.closed(), c.getKey() + ": the broker closes the connection (" + answer + ")");
            outcomes.add(c.getKey() + ": " + answer);
            inputs++;
            assertHealthy();
        }
        for (int i = 0; i < 1000; i++) {
            try (Socket s = new Socket("127.0.0.1", broker.port())) {
                byte[] what = i % 2 == 0 ? preface : noise;
                s.getOutputStream().write(what, 0, Math.min(what.length, i % 50));
            }
            inputs++;
        }
        System.out.printf("BadInputTest wire: %s; 1000 connections opened and dropped%n", outcomes);
    }

    @Test
    void aGrpcMessageCutShortOrAnnouncedHugeEndsItsStreamAndTheConnectionLivesOn() throws Exception {
        byte[] preface = PREFACE.getBytes(StandardCharsets.US_ASCII);
        byte[] headers = frame(1, 4, 1, headerBlock(PUBLISH));
        // A gRPC message prefix announcing 1000 bytes, 10 sent, then the end of the stream.
        byte[] cut = concat(new byte[] {0, 0, 0, 3, (byte) 232}, new byte[10]);
        // One announcing 2 GiB: over the broker's inbound limit.
        byte[] huge = new byte[] {0, 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 1, 2, 3};
        for (byte[] data : List.of(cut, huge)) {
            Frames answer = exchange(concat(preface, settings(), headers, frame(0, 1, 1, data)), false);
            assertTrue(answer.endedStream(1), "stream 1 is answered: " + answer);
            assertTrue(!answer.goAway() && !answer.closed(), "the connection lives on: " + answer);
            inputs++;
        }
    }

    /**
     * A client that never acknowledges the broker's SETTINGS (so HTTP/2 would never apply its stream
     * limit) opening more streams than a connection may have, and one that never ends a stream the
     * broker has answered: the streams past the limit are refused, the answered one is reset, before
     * gRPC holds a call for them.
     */
    @Test
    void streamsPastTheConnectionsLimitAreRefusedAndAnsweredOnesAreResetWithoutTheClientsHelp() throws Exception {
        var out = new ByteArrayOutputStream();
        out.writeBytes(PREFACE.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(settings());   // never an ACK of the broker's
        out.writeBytes(frame(1, 4, 1, headerBlock("sluice.v1.Sluice/NoSuchMethod")));   // answered at once
        int limit = io.sluice.server.security.SecurityConfig.DEFAULT_MAX_STREAMS_PER_CONNECTION;
        String list = SluiceGrpc.getListTopicsMethod().getFullMethodName();
        for (int i = 1; i <= limit + 50; i++) {
            out.writeBytes(frame(1, 4, 1 + 2 * i, headerBlock(list)));   // headers, no body
        }
        Frames answer = exchange(out.toByteArray(), false);
        assertTrue(answer.endedStream(1) && answer.frames().stream().anyMatch(f -> f[0] == 3 && f[2] == 1),
                "the answered stream is reset: " + answer);
        long refused = answer.frames().stream().filter(f -> f[0] == 3 && f[2] > 1 + 2 * (limit - 1)).count();
        assertTrue(refused >= 50, "the streams past the limit are refused, " + refused + " were: " + answer);
        assertTrue(!answer.goAway() && !answer.closed(), "the connection lives on: " + answer);
        inputs++;
    }

    /**
     * A client that reads no answer (its HTTP/2 window is 0) asking for large answers over and over:
     * they would sit in the transport's direct memory until it ran out for every client. Past the
     * budget of unread answers, large answers are refused; small ones go; the budget comes back once
     * the answers have waited on a window that never moves (10 s), while that client is still there.
     */
    @Test
    void largeAnswersNobodyReadsAreBoundedAndTheRestIsServed() throws Exception {
        int topics = 300;
        String padding = "t".repeat(250);
        var created = new ArrayList<com.google.common.util.concurrent.ListenableFuture<?>>();
        var publisher = SluiceGrpc.newFutureStub(broker.channel());
        for (int i = 0; i < topics; i++) {   // ListTopics of these is about 80 KB
            created.add(publisher.publish(PublishRequest.newBuilder().setTopic(padding + i)
                    .setPayload(ByteString.copyFromUtf8("x")).build()));
        }
        com.google.common.util.concurrent.Futures.allAsList(created).get(30, java.util.concurrent.TimeUnit.SECONDS);
        byte[] request = io.sluice.proto.ListTopicsRequest.newBuilder().setPageSize(1000).build().toByteArray();
        byte[] message = concat(new byte[] {0, 0, 0, (byte) (request.length >> 8), (byte) request.length}, request);
        var out = new ByteArrayOutputStream();
        out.writeBytes(PREFACE.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(frame(4, 0, 0, new byte[] {0, 4, 0, 0, 0, 0}));   // SETTINGS: INITIAL_WINDOW_SIZE 0
        String list = SluiceGrpc.getListTopicsMethod().getFullMethodName();
        for (int stream = 1; stream <= 2 * 500 - 1; stream += 2) {   // 500 answers: about 40 MB
            out.writeBytes(frame(1, 4, stream, headerBlock(list)));
            out.writeBytes(frame(0, 1, stream, message));
        }
        var large = io.sluice.proto.ListTopicsRequest.newBuilder().setPageSize(1000).build();
        // Until the budget is seen full, a byte of window for each answer every 2 s: they move, so none
        // is reset as stuck however long a loaded machine takes to make them all.
        var moveEach = new ByteArrayOutputStream();
        for (int stream = 1; stream <= 2 * 500 - 1; stream += 2) {
            moveEach.writeBytes(frame(8, 0, stream, new byte[] {0, 0, 0, 1}));   // WINDOW_UPDATE 1
        }
        try (Socket reader = new Socket("127.0.0.1", broker.port())) {
            reader.getOutputStream().write(out.toByteArray());
            reader.getOutputStream().flush();
            long[] moved = {System.nanoTime()};
            Await.until("the unread answers fill their budget", () -> {
                if (System.nanoTime() - moved[0] > TimeUnit.SECONDS.toNanos(2)) {
                    try {
                        reader.getOutputStream().write(moveEach.toByteArray());
                        reader.getOutputStream().flush();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    moved[0] = System.nanoTime();
                }
                try {
                    broker.blocking().listTopics(large);
                    return false;
                } catch (io.grpc.StatusRuntimeException e) {
                    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.toString());
                    return true;
                }
            });
            broker.blocking().listTopics(io.sluice.proto.ListTopicsRequest.newBuilder().setPageSize(10).build());
            Await.until("the budget comes back while that client is connected: its stuck answers are reset", () -> {
                try {
                    return broker.blocking().listTopics(large).getTopicsCount() == topics;
                } catch (io.grpc.StatusRuntimeException e) {
                    return false;
                }
            });
            assertTrue(reader.isConnected() && !reader.isClosed());
        }
        inputs++;
    }

    // ---- every RPC with extreme values ----

    @Test
    void aHealthCheckNamingAHugeServiceIsRefusedRatherThanEchoedIntoAHugeHeader() {
        var health = io.grpc.health.v1.HealthGrpc.newBlockingStub(broker.channel())
                .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS);
        var huge = assertThrows(io.grpc.StatusRuntimeException.class, () -> health.check(
                io.grpc.health.v1.HealthCheckRequest.newBuilder().setService("s".repeat(100_000)).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, huge.getStatus().getCode(), huge.toString());
        var unknown = assertThrows(io.grpc.StatusRuntimeException.class, () -> health.check(
                io.grpc.health.v1.HealthCheckRequest.newBuilder().setService("s".repeat(256)).build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode(), unknown.toString());
    }

    @Test
    void everyRpcAnswersExtremeValuesWithItsStatus() throws Exception {
        var sluice = broker.blocking();
        String huge = "t".repeat(1 << 20);
        sluice.publish(publish("exists", "x"));
        var cases = new ArrayList<Case>();
        // Publish
        cases.add(refused("Publish, empty topic", () -> sluice.publish(publish("", "x")),
                Status.Code.INVALID_ARGUMENT, "empty"));
        cases.add(refused("Publish, 256-character topic", () -> sluice.publish(publish("t".repeat(256), "x")),
                Status.Code.INVALID_ARGUMENT, "256 characters"));
        cases.add(refused("Publish, 1 MiB topic", () -> sluice.publish(publish(huge, "x")),
                Status.Code.INVALID_ARGUMENT, "1048576 characters"));
        cases.add(refused("Publish, NUL in topic", () -> sluice.publish(publish("a\0b", "x")),
                Status.Code.INVALID_ARGUMENT, "U+0000"));
        cases.add(refused("Publish, non-ASCII topic", () -> sluice.publish(publish("caf\u00e9\ud83d\ude00", "x")),
                Status.Code.INVALID_ARGUMENT, "U+00E9"));
        cases.add(raw("Publish, topic not UTF-8", PUBLISH, new RawGrpc.Proto().bytes(1, NOT_UTF8).build(),
                Status.Code.INVALID_ARGUMENT, "invalid UTF-8"));
        cases.add(raw("Publish, attribute key not UTF-8", PUBLISH, new RawGrpc.Proto().string(1, "t")
                .message(3, new RawGrpc.Proto().bytes(1, NOT_UTF8).string(2, "v")).build(),
                Status.Code.INVALID_ARGUMENT, "invalid UTF-8"));
        cases.add(raw("Publish, a field cut short", PUBLISH, new byte[] {0x0A, 0x7F, 't'},
                Status.Code.INVALID_ARGUMENT, "not a valid protobuf message"));
        cases.add(raw("Publish, unknown fields", PUBLISH, new RawGrpc.Proto().string(1, "t").varint(99, -1L)
                .string(1000, "future").build(), Status.Code.OK, ""));
        cases.add(refused("Publish, payload over 4 MiB", () -> sluice.publish(PublishRequest.newBuilder().setTopic("t")
                .setPayload(ByteString.copyFrom(new byte[4 * 1024 * 1024 + 1])).build()),
                Status.Code.RESOURCE_EXHAUSTED, "4194304"));
        cases.add(refused("Publish, empty attribute key", () -> sluice.publish(publish("t", "x").toBuilder()
                .putAttributes("", "v").build()), Status.Code.INVALID_ARGUMENT, "empty"));
        var many = new HashMap<String, String>();
        for (int i = 0; i < 100_000; i++) {
            many.put("k" + i, "");
        }
        cases.add(refused("Publish, 100,000 attributes", () -> sluice.publish(publish("t", "x").toBuilder()
                .putAllAttributes(many).build()), Status.Code.INVALID_ARGUMENT, "100000 attributes"));
        // BatchPublish
        cases.add(refused("BatchPublish, no messages", () -> sluice.batchPublish(BatchPublishRequest.newBuilder()
                .setTopic("t").build()), Status.Code.INVALID_ARGUMENT, "no messages"));
        cases.add(refused("BatchPublish, NUL in topic", () -> sluice.batchPublish(BatchPublishRequest.newBuilder()
                .setTopic("\0").addMessages(BatchMessage.getDefaultInstance()).build()),
                Status.Code.INVALID_ARGUMENT, "U+0000"));
        cases.add(refused("BatchPublish, one message over the limit", () -> sluice.batchPublish(
                BatchPublishRequest.newBuilder().setTopic("batch").addMessages(BatchMessage.getDefaultInstance())
                        .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFrom(
                                new byte[4 * 1024 * 1024 + 1]))).build()),
                Status.Code.RESOURCE_EXHAUSTED, "message 1 of the batch (counting from 0)"));
        // Admin
        cases.add(refused("GetTopicStats, empty name", () -> sluice.getTopicStats(GetTopicStatsRequest.newBuilder()
                .addTopics("").build()), Status.Code.INVALID_ARGUMENT, "empty"));
        cases.add(refused("GetTopicStats, 1 MiB name", () -> sluice.getTopicStats(GetTopicStatsRequest.newBuilder()
                .addTopics(huge).build()), Status.Code.INVALID_ARGUMENT, "1048576"));
        cases.add(raw("GetTopicStats, name not UTF-8", SluiceGrpc.getGetTopicStatsMethod().getFullMethodName(),
                new RawGrpc.Proto().bytes(1, NOT_UTF8).build(), Status.Code.INVALID_ARGUMENT, "invalid UTF-8"));
        cases.add(refused("DeleteTopic, NUL", () -> sluice.deleteTopic(DeleteTopicRequest.newBuilder().setTopic("\0")
                .build()), Status.Code.INVALID_ARGUMENT, "U+0000"));
        cases.add(refused("DeleteConsumerGroup, 256-character group", () -> sluice.deleteConsumerGroup(
                DeleteConsumerGroupRequest.newBuilder().setTopic("exists").setConsumerGroup("g".repeat(256)).build()),
                Status.Code.INVALID_ARGUMENT, "256"));
        cases.add(refused("ResetCursor, sequence uint64 max", () -> sluice.resetCursor(ResetCursorRequest.newBuilder()
                .setTopic("exists").setConsumerGroup("g").setSequence(-1L).build()),
                Status.Code.INVALID_ARGUMENT, "18446744073709551615"));
        cases.add(refused("ResetCursor, sequence 2^63-1", () -> sluice.resetCursor(ResetCursorRequest.newBuilder()
                .setTopic("exists").setConsumerGroup("g").setSequence(Long.MAX_VALUE).build()),
                Status.Code.INVALID_ARGUMENT, "beyond the last sequence"));
        cases.add(refused("ResetCursor, unknown topic", () -> sluice.resetCursor(ResetCursorRequest.newBuilder()
                .setTopic("nowhere").setSequence(0).build()), Status.Code.NOT_FOUND, "nowhere"));
        cases.add(raw("Unknown method", "sluice.v1.Sluice/Nothing", new byte[0], Status.Code.UNIMPLEMENTED, ""));

        var report = new ArrayList<String>();
        for (Case c : cases) {
            Status s = c.call().get();
            assertEquals(c.code(), s.getCode(), c.name() + ": " + s);
            String d = s.getDescription() == null ? "" : s.getDescription();
            assertTrue(d.contains(c.fragment()), c.name() + " names the problem: " + s);
            assertTrue(d.length() < 2000, c.name() + ": the answer stays short (" + d.length() + " characters)");
            report.add(c.name() + " -> " + s.getCode());
            inputs++;
        }

        // Accepted extremes come back intact.
        var attrs = new HashMap<String, String>();
        for (int i = 0; i < 5000; i++) {
            attrs.put("k" + i, "v");
        }
        attrs.put("nul\0key", "nul\0value \uD83D\uDE00");
        PublishResponse r = sluice.publish(PublishRequest.newBuilder().setTopic("extremes").putAllAttributes(attrs)
                .build());
        var batch = BatchPublishRequest.newBuilder().setTopic("extremes");
        for (int i = 0; i < ServerConfig.DEFAULT_MAX_BATCH_MESSAGES; i++) {
            batch.addMessages(BatchMessage.getDefaultInstance());
        }
        var results = sluice.batchPublish(batch.build()).getResultsList();
        assertEquals(ServerConfig.DEFAULT_MAX_BATCH_MESSAGES, results.size());
        assertEquals(results.getFirst().getSequence() + ServerConfig.DEFAULT_MAX_BATCH_MESSAGES - 1,
                results.getLast().getSequence(), "contiguous");
        var stats = sluice.getTopicStats(GetTopicStatsRequest.newBuilder().addAllTopics(
                java.util.stream.IntStream.range(0, 10_000).mapToObj(i -> "unknown-" + i).toList()).build());
        assertEquals(0, stats.getStatsCount(), "10,000 unknown topics: none reported");
        assertTrue(!sluice.deleteTopic(DeleteTopicRequest.newBuilder().setTopic("unknown").build()).getDeleted());
        assertTrue(!sluice.deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder().setTopic("unknown")
                .setConsumerGroup("").build()).getDeleted());
        assertTrue(sluice.listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsCount() >= 2);
        var s = track(StreamClient.browse(broker.async(), "extremes", InitialPosition.EARLIEST, 0));
        s.credit(1);
        MessageDelivery d = s.delivery();
        assertEquals(r.getSequence(), d.getSequence());
        assertEquals(attrs, d.getAttributesMap(), "5,001 attributes, NUL and a surrogate pair included, intact");
        inputs += 6;
        System.out.printf("BadInputTest RPCs: %s%n", report);
    }

    @Test
    void healthAndReflectionAnswerMalformedRequestsWithInvalidArgument() throws Exception {
        byte[] garbage = {(byte) 0xFF, 0x01};
        byte[] listServices = new RawGrpc.Proto().string(7, "").build();
        var answers = new java.util.LinkedHashMap<String, RawGrpc.Ended>();
        answers.put("Health/Check", new RawGrpc.Ended(List.of(),
                RawGrpc.unary(broker.channel(), "grpc.health.v1.Health/Check", garbage)));
        answers.put("Health/Watch", RawGrpc.bidi(broker.channel(), "grpc.health.v1.Health/Watch", List.of(garbage)));
        for (String version : List.of("v1", "v1alpha")) {
            String method = "grpc.reflection." + version + ".ServerReflection/ServerReflectionInfo";
            answers.put(version + " reflection, first message", RawGrpc.bidi(broker.channel(), method,
                    List.of(garbage)));
            answers.put(version + " reflection, after a good one", RawGrpc.bidi(broker.channel(), method,
                    List.of(listServices, garbage)));
        }
        answers.forEach((name, ended) -> {
            Status s = ended.status();
            assertTrue(s != null, name + ": the call was ended");
            assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode(), name + ": " + s);
            assertTrue(s.getDescription().contains("not a valid protobuf message"), name + " names the problem: " + s);
            inputs++;
        });
        assertEquals(1, answers.get("v1 reflection, after a good one").responses().size(),
                "the good request was answered before the bad one ended the stream");
        // (After each test: the broker is still healthy, serves a publish and logged no error.)
    }

    // ---- Subscribe ----

    @Test
    void subscribeRefusesProtocolViolationsWithInvalidArgument() throws Exception {
        var cases = new ArrayList<Case>();
        cases.add(stream("ack before init", List.of(ack("x")), "must be init, not ack"));
        cases.add(stream("credit before init", List.of(credit(5)), "must be init, not credit"));
        cases.add(stream("an empty first message", List.of(SubscribeUpstream.getDefaultInstance()),
                "must be init, not an empty message"));
        cases.add(stream("init twice", List.of(init("subs", "g"), credit(1), init("subs", "g")), "already sent"));
        cases.add(stream("an empty message after init",
                List.of(init("subs", "g"), SubscribeUpstream.getDefaultInstance()), "must carry init, credit"));
        cases.add(stream("init with an empty topic", List.of(init("", "g")), "empty"));
        cases.add(stream("init with a 1 MiB topic", List.of(init("t".repeat(1 << 20), "g")), "1048576"));
        cases.add(stream("init with NUL in the group", List.of(init("subs", "g\0")), "U+0000"));
        cases.add(stream("init with a 256-character consumer id", List.of(SubscribeUpstream.newBuilder()
                .setInit(SubscriptionInit.newBuilder().setTopic("subs").setConsumerId("c".repeat(256))).build()),
                "255"));
        cases.add(stream("init with a consumer id of 256 emoji (512 UTF-16 units)", List.of(SubscribeUpstream
                .newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("subs")
                        .setConsumerId("\uD83D\uDE00".repeat(256))).build()), "consumer_id is 256 characters long"));
        cases.add(stream("init with mode 7", List.of(SubscribeUpstream.newBuilder().setInit(SubscriptionInit
                .newBuilder().setTopic("subs").setModeValue(7)).build()), "mode 7"));
        cases.add(stream("init with initial_position 9", List.of(SubscribeUpstream.newBuilder().setInit(
                SubscriptionInit.newBuilder().setTopic("subs").setInitialPositionValue(9)).build()),
                "initial_position 9"));
        byte[] validInit = init("subs", "raw").toByteArray();
        cases.add(rawStream("a first message that is not protobuf", List.of(new byte[] {(byte) 0xFF, 0x01}),
                "not a valid protobuf message"));
        cases.add(rawStream("an ack id that is not UTF-8, after init", List.of(validInit,
                new RawGrpc.Proto().message(3, new RawGrpc.Proto().bytes(1, NOT_UTF8)).build()), "invalid UTF-8"));
        cases.add(rawStream("a topic that is not UTF-8", List.of(new RawGrpc.Proto()
                .message(1, new RawGrpc.Proto().bytes(1, NOT_UTF8)).build()), "invalid UTF-8"));
        for (Case c : cases) {
            Status s = c.call().get();
            assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode(), c.name() + ": " + s);
            assertTrue(s.getDescription().contains(c.fragment()), c.name() + " names the problem: " + s);
            inputs++;
        }
        awaitNoStreams();
    }

    @Test
    void subscribeTakesExtremeValuesAndIgnoresUnknownIdsWithoutEndingTheStream() throws Exception {
        var sluice = broker.blocking();
        var sent = new ArrayList<PublishResponse>();
        for (int i = 0; i < 10; i++) {
            sent.add(sluice.publish(publish("subs", "m" + i)));
        }
        // OFFSET uint64 max: refused, as ResetCursor refuses a cursor past the end; nothing is stored for it.
        var far = track(StreamClient.groupAt(broker.async(), "subs", "far", -1L));
        assertEquals(Status.Code.INVALID_ARGUMENT, far.awaitClose().getCode());

        var s = track(StreamClient.group(broker.async(), "subs", "g", InitialPosition.EARLIEST));
        for (int i = 0; i < 3; i++) {
            s.credit(-1);   // uint32 max, three times: saturates, never wraps
        }
        for (PublishResponse p : sent) {
            assertEquals(p.getSequence(), s.delivery().getSequence());
        }
        var garbage = new ArrayList<String>(List.of("", "not-an-id", "\0", "x".repeat(1 << 20),
                UUID.randomUUID().toString(), new UUID(0x0123456789AB7000L, 0x8000000000000005L).toString(),
                sent.getFirst().getMessageId() + " ", " " + sent.getFirst().getMessageId().substring(1)));
        // (The id in upper case is the same UUID, and is taken as such: not garbage.)
        for (String id : garbage) {
            s.ack(id);
            s.nack(id, 0);
            inputs += 2;
        }
        s.nack(sent.get(3).getMessageId(), (int) Subscription.MAX_NACK_DELAY_MS);   // the longest: not again for an hour
        var ids = new ArrayList<String>();
        for (int i = 0; i < 10_000; i++) {
            ids.add("garbage-" + i);
        }
        ids.add(sent.get(4).getMessageId());
        s.batchAck(ids);
        inputs += 2;
        PublishResponse after = sluice.publish(publish("subs", "after"));
        MessageDelivery next = s.delivery();
        assertEquals(after.getSequence(), next.getSequence(), "the stream goes on, nothing redelivered: " + next);
        awaitCursor("subs", "g", sent.get(4).getSequence());

        s.nack(sent.get(5).getMessageId(), -1);   // uint32 max ms, 49 days: beyond the maximum, refused
        var status = s.awaitClose();
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
        assertTrue(status.getDescription().contains(String.valueOf(Subscription.MAX_NACK_DELAY_MS)), status.toString());
    }

    // ---- PublishStream ----

    @Test
    void publishStreamAnswersBadRequestsInPlaceAndEndsOnOneThatIsNotProtobuf() throws Exception {
        var ok = new RawGrpc.Proto().varint(1, -1L).string(2, "ps").string(3, "payload").build();
        var badTopic = new RawGrpc.Proto().varint(1, 7).string(2, "a\0b").build();
        var notUtf8 = new RawGrpc.Proto().varint(1, 8).bytes(2, NOT_UTF8).build();
        RawGrpc.Ended end = RawGrpc.bidi(broker.channel(), PUBLISH_STREAM, List.of(ok, badTopic, notUtf8));
        assertEquals(Status.Code.INVALID_ARGUMENT, end.status().getCode(), String.valueOf(end.status()));
        assertTrue(end.status().getDescription().contains("invalid UTF-8"), end.status().toString());
        var answers = new ArrayList<PublishStreamResponse>();
        for (byte[] b : end.responses()) {
            answers.add(PublishStreamResponse.parseFrom(b));
        }
        // The one that did not parse has no request_id to answer: the two before it are answered first.
        assertEquals(2, answers.size(), answers.toString());
        assertEquals(-1L, answers.getFirst().getRequestId(), "request_id uint64 max is echoed");
        assertEquals(0, answers.getFirst().getErrorCode(), "stored, and answered so");
        assertEquals(7, answers.get(1).getRequestId());
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), answers.get(1).getErrorCode(), answers.get(1).toString());
        assertEquals(1, broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("ps").build())
                .getStats(0).getTotalMessages());
        inputs += 3;
    }

    @Test
    void publishStreamAnswersWhatItStoredBeforeARequestThatIsNotProtobuf() throws Exception {
        var requests = new ArrayList<byte[]>();
        for (int i = 1; i <= 50; i++) {
            requests.add(new RawGrpc.Proto().varint(1, i).string(2, "ps-many").string(3, "m" + i).build());
        }
        requests.add(new byte[] {0x0A, 0x7F, 't'});   // a field cut short
        requests.add(new RawGrpc.Proto().varint(1, 99).string(2, "ps-many").string(3, "after").build());
        RawGrpc.Ended end = RawGrpc.bidi(broker.channel(), PUBLISH_STREAM, requests);
        assertEquals(Status.Code.INVALID_ARGUMENT, end.status().getCode(), String.valueOf(end.status()));
        var ids = new ArrayList<Long>();
        for (byte[] b : end.responses()) {
            var answer = PublishStreamResponse.parseFrom(b);
            assertEquals(0, answer.getErrorCode(), answer.toString());
            ids.add(answer.getRequestId());
        }
        assertEquals(java.util.stream.LongStream.rangeClosed(1, 50).boxed().toList(), ids,
                "every request before the malformed one answered, in order; none after it read");
        assertEquals(50, broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("ps-many")
                .build()).getStats(0).getTotalMessages());
        inputs += 52;
    }

    // ---- helpers ----

    private record Case(String name, Supplier<Status> call, Status.Code code, String fragment) {
    }

    private static Case refused(String name, Runnable call, Status.Code code, String fragment) {
        return new Case(name, () -> {
            try {
                call.run();
                return Status.OK;
            } catch (StatusRuntimeException e) {
                return e.getStatus();
            }
        }, code, fragment);
    }

    private Case raw(String name, String method, byte[] request, Status.Code code, String fragment) {
        return new Case(name, () -> RawGrpc.unary(broker.channel(), method, request), code, fragment);
    }

    private Case stream(String name, List<SubscribeUpstream> messages, String fragment) {
        return rawStream(name, messages.stream().map(SubscribeUpstream::toByteArray).toList(), fragment);
    }

    private Case rawStream(String name, List<byte[]> messages, String fragment) {
        return new Case(name, () -> {
            try {
                Status s = RawGrpc.bidi(broker.channel(), SUBSCRIBE, messages).status();
                return s == null ? Status.DEADLINE_EXCEEDED.withDescription("still open") : s;
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }, Status.Code.INVALID_ARGUMENT, fragment);
    }

    private static SubscribeUpstream init(String topic, String group) {
        return SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic(topic)
                .setConsumerGroup(group).setMode(SubscriptionMode.CONSUMER_GROUP)).build();
    }

    private static SubscribeUpstream ack(String id) {
        return SubscribeUpstream.newBuilder().setAck(io.sluice.proto.Ack.newBuilder().setMessageId(id)).build();
    }

    private static SubscribeUpstream credit(int n) {
        return SubscribeUpstream.newBuilder().setCredit(io.sluice.proto.CreditGrant.newBuilder().setCredits(n)).build();
    }

    private static PublishRequest publish(String topic, String payload) {
        return PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFromUtf8(payload)).build();
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }

    private void assertHealthy() {
        HealthCheckResponse.ServingStatus status;
        try {
            status = HealthGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.getDefaultInstance()).getStatus();
        } catch (StatusRuntimeException e) {
            status = HealthCheckResponse.ServingStatus.UNKNOWN;
        }
        if (status != HealthCheckResponse.ServingStatus.SERVING) {
            Figures.row("bad input: wire and RPC values").crashes(1);
        }
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, status, "the broker is healthy");
    }

    /** SERVING, and a publish reaches a new subscriber. */
    private void assertHealthyAndWorking() throws InterruptedException {
        assertHealthy();
        PublishResponse r = broker.blocking().publish(publish("after-bad-input", "still works"));
        try (var s = StreamClient.group(broker.async(), "after-bad-input", "check", InitialPosition.EARLIEST)) {
            s.credit(1);
            assertEquals(r.getSequence(), s.delivery().getSequence());
        }
    }

    private void awaitNoStreams() {
        broker.awaitStreams(0);
    }

    private void awaitCursor(String topic, String group, long sequence) {
        Cursors.awaitExactly(broker.blocking(), topic, group, sequence);
    }

    // ---- raw HTTP/2 ----

    /** What the broker sent back on a raw connection, frame by frame, and whether it closed it. */
    private record Frames(List<int[]> frames, boolean closed) {
        boolean goAway() {
            return frames.stream().anyMatch(f -> f[0] == 7);
        }

        /** A frame on {@code stream} ending it: HEADERS with END_STREAM, or RST_STREAM. */
        boolean endedStream(int stream) {
            return frames.stream().anyMatch(f -> f[2] == stream && ((f[0] == 1 && (f[1] & 1) != 0) || f[0] == 3));
        }

        @Override
        public String toString() {
            var types = frames.stream().map(f -> switch (f[0]) {
                case 0 -> "DATA";
                case 1 -> "HEADERS";
                case 3 -> "RST_STREAM";
                case 4 -> "SETTINGS";
                case 6 -> "PING";
                case 7 -> "GOAWAY";
                case 8 -> "WINDOW_UPDATE";
                default -> "type " + f[0];
            } + (f[2] != 0 ? "@" + f[2] : "")).toList();
            return types + (closed ? " then closed" : ", still open");
        }
    }

    /** Sends {@code bytes} on a new connection (then half-closes it, if asked) and reads what comes back. */
    private Frames exchange(byte[] bytes, boolean halfClose) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", broker.port())) {
            socket.setSoTimeout(halfClose ? 10_000 : 2_000);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(bytes);
                out.flush();
                if (halfClose) {
                    socket.shutdownOutput();
                }
            } catch (IOException e) {
                return new Frames(List.of(), true);   // the broker closed it while we were still writing
            }
            var received = new ByteArrayOutputStream();
            boolean closed = false;
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    received.write(buffer, 0, n);
                }
                closed = true;
            } catch (SocketTimeoutException e) {
                closed = false;
            } catch (IOException e) {
                closed = true;   // reset by the broker
            }
            return new Frames(parse(received.toByteArray()), closed);
        }
    }
}
