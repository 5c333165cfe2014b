package io.sluice.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.sluice.Await;
import io.sluice.RawHttp2;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The limits against careless or hostile clients, each hit on the real broker with a clear status. */
class LimitsTest {
    @TempDir
    Path dir;
    private TestBroker broker;

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    private static SecurityConfig limits(int connections, int subscribeStreams, Duration handshake) {
        return SecurityConfig.none().withLimits(connections, SecurityConfig.DEFAULT_MAX_STREAMS_PER_CONNECTION,
                subscribeStreams, SecurityConfig.DEFAULT_MAX_METADATA_BYTES, handshake);
    }

    @Test
    void subscribeStreamsPastTheBrokersLimitAreResourceExhausted() throws InterruptedException {
        broker = TestBroker.start(dir, limits(100, 1, Duration.ofSeconds(10)));
        try (var first = StreamClient.group(broker.async(), "orders", "a", InitialPosition.EARLIEST)) {
            assertTrue(first.next().hasHeartbeat());
            var second = StreamClient.group(broker.async(), "orders", "b", InitialPosition.EARLIEST);
            Status refused = second.awaitClose();
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode());
            assertTrue(refused.getDescription().contains("--max-subscribe-streams"), refused.toString());
        }
    }

    @Test
    void aConnectionPastTheLimitIsClosedWhileEveryOtherHasACallAndTakesAnIdleOnesPlaceOtherwise() throws Exception {
        broker = TestBroker.start(dir, limits(1, 100, Duration.ofSeconds(10)));
        try (var busy = StreamClient.group(broker.async(), "orders", "g", InitialPosition.EARLIEST)) {
            assertTrue(busy.next().hasHeartbeat());
            var e = assertThrows(StatusRuntimeException.class,
                    () -> broker.blocking().listTopics(ListTopicsRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            busy.credit(1);   // the one admitted is untouched
            assertTrue(busy.next().hasHeartbeat());
        }
        Await.until("the stream's call is gone", () -> broker.server().security().openCalls() == 0);
        // Its connection is idle now: a new one takes its place rather than being turned away.
        broker.blocking().listTopics(ListTopicsRequest.getDefaultInstance());
        Await.until("the idle connection is closed", () -> broker.server().security().openConnections() == 1);
    }

    @Test
    void aCallWhoseFirstRequestNeverComesEndsWhenTheHandshakeTimeoutPassesAndGivesItsPlaceBack() throws Exception {
        broker = TestBroker.start(dir, limits(100, 1, Duration.ofMillis(1500)));
        var silent = StreamClient.open(broker.async());   // headers, and never its init
        Status ended = silent.awaitClose();
        assertEquals(Status.Code.DEADLINE_EXCEEDED, ended.getCode());
        assertTrue(ended.getDescription().contains("--handshake-timeout"), ended.toString());
        try (var next = StreamClient.group(broker.async(), "orders", "g", InitialPosition.EARLIEST)) {
            assertTrue(next.next().hasHeartbeat(), "the only Subscribe slot is free again");
        }
    }

    @Test
    void callsPastTheBrokersLimitAreRefusedWhileAConnectionWithoutOneIsServed() throws InterruptedException {
        broker = TestBroker.start(dir, limits(100, 100, Duration.ofSeconds(10)).withMaxCalls(2));
        var busy = broker.async();   // one connection holding both calls of the limit
        try (var a = StreamClient.group(busy, "orders", "a", InitialPosition.EARLIEST);
             var b = StreamClient.group(busy, "orders", "b", InitialPosition.EARLIEST)) {
            assertTrue(a.next().hasHeartbeat());
            assertTrue(b.next().hasHeartbeat());
            var e = assertThrows(StatusRuntimeException.class, () -> SluiceGrpc.newBlockingStub(busy.getChannel())
                    .withDeadlineAfter(20, TimeUnit.SECONDS).listTopics(ListTopicsRequest.getDefaultInstance()));
            assertTrue(e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED
                    || e.getStatus().getCode() == Status.Code.UNAVAILABLE, e.toString());
            // Another client, on a connection of its own, is served: every connection may have one call.
            broker.blocking().withDeadlineAfter(20, TimeUnit.SECONDS)
                    .listTopics(ListTopicsRequest.getDefaultInstance());
        }
        Await.until("the streams' calls are gone", () -> broker.server().security().openCalls() == 0);
        SluiceGrpc.newBlockingStub(busy.getChannel()).withDeadlineAfter(20, TimeUnit.SECONDS)
                .listTopics(ListTopicsRequest.getDefaultInstance());
    }

    @Test
    void aConnectionThatNeverCompletesItsHandshakeIsClosedAndOthersAreNot() throws Exception {
        broker = TestBroker.start(dir, limits(100, 100, Duration.ofMillis(1000)));
        try (var stream = StreamClient.group(broker.async(), "orders", "g", InitialPosition.EARLIEST);
             var silent = new Socket()) {
            assertTrue(stream.next().hasHeartbeat());
            silent.connect(new InetSocketAddress("127.0.0.1", broker.port()), 20_000);
            silent.setSoTimeout(20_000);
            InputStream in = silent.getInputStream();
            in.readAllBytes();   // the broker's SETTINGS, then the end: SO_TIMEOUT fails the test if it stays open
            // The stream opened before (its connection long past the timeout) still delivers.
            stream.credit(1);
            broker.blocking().publish(PublishRequest.newBuilder().setTopic("orders")
                    .setPayload(ByteString.copyFromUtf8("still here")).build());
            assertEquals("still here", stream.delivery().getPayload().toStringUtf8());
        }
    }

    /**
     * Publish calls that send their headers and never their request (declared as streams, so a client
     * sends the headers alone) would hold the publish budget in turn; each is cancelled within seconds,
     * waiting for room or not, so another client's publish goes through.
     */
    @Test
    void unaryCallsWhoseRequestNeverFollowsTheirHeadersAreCancelledAndPublishesGoOn() throws Exception {
        broker = TestBroker.start(dir, SecurityConfig.none());
        MethodDescriptor.Marshaller<byte[]> bytes = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(byte[] value) {
                return new java.io.ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(InputStream stream) {
                try {
                    return stream.readAllBytes();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
        var headersOnly = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
                .setFullMethodName(SluiceGrpc.getPublishMethod().getFullMethodName())
                .setRequestMarshaller(bytes).setResponseMarshaller(bytes).build();
        var ended = new java.util.concurrent.LinkedBlockingQueue<Status>();
        for (int i = 0; i < 30; i++) {   // the budget holds 7 of them at once
            ClientCall<byte[], byte[]> call = broker.channel().newCall(headersOnly, CallOptions.DEFAULT);
            call.start(new ClientCall.Listener<>() {
                @Override
                public void onClose(Status status, Metadata trailers) {
                    ended.add(status);
                }
            }, new Metadata());
            call.request(1);
        }
        broker.blocking().withDeadlineAfter(20, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
                .setTopic("orders").setPayload(ByteString.copyFromUtf8("goes through")).build());
        for (int i = 0; i < 30; i++) {
            Status s = ended.poll(20, TimeUnit.SECONDS);
            assertTrue(s != null, "every call without its request ends, " + i + " did");
            assertEquals(Status.Code.CANCELLED, s.getCode(), s.toString());
        }
    }

    @Test
    void headersOverTheMetadataLimitAreRefused() {
        broker = TestBroker.start(dir, SecurityConfig.none());
        var headers = new Metadata();
        headers.put(Metadata.Key.of("x-padding", Metadata.ASCII_STRING_MARSHALLER), "p".repeat(16 * 1024));
        var padded = SluiceGrpc.newBlockingStub(broker.channel())
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(20, TimeUnit.SECONDS);
        var e = assertThrows(StatusRuntimeException.class,
                () -> padded.listTopics(ListTopicsRequest.getDefaultInstance()));
        assertNotEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode(), e.toString());
        broker.blocking().listTopics(ListTopicsRequest.getDefaultInstance());
    }

    @Test
    void aConnectionResettingStreamsAsFastAsItOpensThemIsClosedAndOthersAreServed() throws Exception {
        broker = TestBroker.start(dir);
        var out = new java.io.ByteArrayOutputStream();
        out.writeBytes(RawHttp2.PREFACE.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.writeBytes(RawHttp2.settings());
        byte[] block = RawHttp2.headerBlock(SluiceGrpc.getListTopicsMethod().getFullMethodName());
        byte[] cancel = {0, 0, 0, 8};   // RST_STREAM CANCEL
        for (int stream = 1; stream < 2 * 3 * Security.MAX_RESETS; stream += 2) {   // rapid reset
            out.writeBytes(RawHttp2.frame(1, 4, stream, block));
            out.writeBytes(RawHttp2.frame(3, 0, stream, cancel));
        }
        try (var attacker = new Socket("127.0.0.1", broker.port())) {
            attacker.setSoTimeout(20_000);
            try {
                attacker.getOutputStream().write(out.toByteArray());
            } catch (java.io.IOException e) {
                // closed while still writing: what the limit does
            }
            try {
                attacker.getInputStream().readAllBytes();   // until the broker closes it
            } catch (java.net.SocketTimeoutException e) {
                throw new AssertionError("the connection is still open after its resets", e);
            } catch (java.io.IOException e) {
                // reset by the broker: closed too
            }
        }
        broker.blocking().withDeadlineAfter(20, TimeUnit.SECONDS).listTopics(ListTopicsRequest.getDefaultInstance());
    }

    @Test
    void streamsPastTheLimitAreRefusedAloneAfterTheClientAcknowledgesSettings() throws Exception {
        broker = TestBroker.start(dir, SecurityConfig.none().withLimits(100, 5, 100,
                SecurityConfig.DEFAULT_MAX_METADATA_BYTES, Duration.ofSeconds(10)));
        var out = new java.io.ByteArrayOutputStream();
        out.writeBytes(RawHttp2.PREFACE.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.writeBytes(RawHttp2.settings());
        out.writeBytes(RawHttp2.frame(4, 1, 0, new byte[0]));   // SETTINGS ACK: the broker's limit is known
        byte[] block = RawHttp2.headerBlock(SluiceGrpc.getPublishStreamMethod().getFullMethodName());
        byte[] body = io.sluice.proto.PublishStreamRequest.newBuilder().setRequestId(1).setTopic("acked")
                .setPayload(ByteString.copyFromUtf8("x")).build().toByteArray();
        byte[] request = java.nio.ByteBuffer.allocate(5 + body.length).put((byte) 0).putInt(body.length).put(body)
                .array();
        for (int stream = 1; stream <= 19; stream += 2) {   // ten streams, each with its first request
            out.writeBytes(RawHttp2.frame(1, 4, stream, block));
            out.writeBytes(RawHttp2.frame(0, 0, stream, request));
        }
        var received = new java.io.ByteArrayOutputStream();
        try (var socket = new Socket("127.0.0.1", broker.port())) {
            socket.getOutputStream().write(out.toByteArray());
            socket.setSoTimeout(1_500);
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = socket.getInputStream().read(buffer)) >= 0; ) {
                    received.write(buffer, 0, n);
                }
            } catch (java.net.SocketTimeoutException e) {
                // still open: what is asked
            }
        }
        var frames = RawHttp2.parse(received.toByteArray());
        assertTrue(frames.stream().noneMatch(f -> f[0] == 7), "no GOAWAY: the connection lives on");
        assertEquals(5, frames.stream().filter(f -> f[0] == 3).count(), "the five streams past the limit refused");
        assertEquals(5, frames.stream().filter(f -> f[0] == 0).map(f -> f[2]).distinct().count(),
                "the five taken are answered");
    }
}
