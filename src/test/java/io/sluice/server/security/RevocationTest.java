package io.sluice.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.sluice.Await;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Grants withdrawn while streams are open: the auth file changes (a subscribe grant taken away, a
 * token removed) or a token expires, and the streams opened under the old grants end, or their
 * later requests are refused, as a new call would be.
 */
class RevocationTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String READER = Tokens.generate();
    private static final String WRITER = Tokens.generate();

    @TempDir
    Path dir;
    private TestBroker broker;
    private Path authFile;

    @AfterEach
    void stop() throws InterruptedException {
        if (broker != null) {
            broker.close();
        }
    }

    private void start(String yaml) throws IOException {
        authFile = dir.resolve("auth.yaml");
        Files.writeString(authFile, yaml);
        broker = TestBroker.start(dir.resolve("data"), SecurityConfig.none().withAuth(authFile, dir.resolve("audit"))
                .withReloadInterval(Duration.ofMinutes(10)));
    }

    private void rewrite(String yaml) throws Exception {
        Files.writeString(authFile, yaml);
        assertTrue(broker.server().security().reloadAndWait(WAIT));
    }

    private static String token(String id, String secret, String grants) {
        return "  - id: " + id + "\n    sha256: " + Tokens.sha256Hex(secret) + "\n    " + grants + "\n";
    }

    private SluiceGrpc.SluiceStub as(String secret) {
        var headers = new Metadata();
        headers.put(AuthInterceptor.AUTHORIZATION, "Bearer " + secret);
        return SluiceGrpc.newStub(broker.channel())
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    @Test
    void aSubscribeGrantTakenAwayEndsTheOpenStreamAsARefusalWould() throws Exception {
        String writer = token("writer", WRITER, "publish: ['>']");
        start("tokens:\n" + writer + token("reader", READER, "subscribe: ['orders.>', 'audit']"));
        try (var orders = StreamClient.group(as(READER), "orders.eu", "g", InitialPosition.EARLIEST);
             var audit = StreamClient.group(as(READER), "audit", "g", InitialPosition.EARLIEST)) {
            assertTrue(orders.next().hasHeartbeat());
            assertTrue(audit.next().hasHeartbeat());
            rewrite("tokens:\n" + writer + token("reader", READER, "subscribe: ['audit']"));
            assertEquals("PERMISSION_DENIED", orders.streamError());
            Status ended = orders.awaitClose();
            assertEquals(Status.Code.PERMISSION_DENIED, ended.getCode());
            assertTrue(ended.getDescription().contains("token 'reader' holds no subscribe grant on topic orders.eu"),
                    ended.toString());
            audit.credit(1);
            assertTrue(audit.next().hasHeartbeat(), "the stream still granted goes on");
        }
    }

    @Test
    void aTokenRemovedOrExpiredEndsItsStreamsUnauthenticated() throws Exception {
        String writer = token("writer", WRITER, "publish: ['>']");
        Instant soon = Instant.now().plusSeconds(5);   // room for a loaded machine to start and open the stream
        start("tokens:\n" + writer + token("reader", READER, "subscribe: ['>']\n    expires: " + soon));
        try (var stream = StreamClient.browse(as(READER), "orders.eu", InitialPosition.EARLIEST, 0)) {
            assertTrue(stream.next().hasHeartbeat());
            Await.until("the token has expired", () -> Instant.now().isAfter(soon));
            rewrite("tokens:\n" + writer + token("reader", READER, "subscribe: ['>']\n    expires: " + soon));
            assertEquals("UNAUTHENTICATED", stream.streamError());
            Status ended = stream.awaitClose();
            assertEquals(Status.Code.UNAUTHENTICATED, ended.getCode());
            assertTrue(ended.getDescription().contains("expired"), ended.toString());
        }
        start2Removed(writer);
    }

    /** The same broker: a token removed from the file ends its stream too. */
    private void start2Removed(String writer) throws Exception {
        rewrite("tokens:\n" + writer + token("reader", READER, "subscribe: ['>']"));
        try (var stream = StreamClient.browse(as(READER), "orders.eu", InitialPosition.EARLIEST, 0)) {
            assertTrue(stream.next().hasHeartbeat());
            rewrite("tokens:\n" + writer);
            assertEquals("UNAUTHENTICATED", stream.streamError());
            assertEquals(Status.Code.UNAUTHENTICATED, stream.awaitClose().getCode());
        }
    }

    @Test
    void aPublishStreamsLaterRequestsMeetTheGrantsInForce() throws Exception {
        start("tokens:\n" + token("writer", WRITER, "publish: ['orders.>', 'audit']"));
        var observed = new PublishStreamAnswers();
        var answers = observed.answers;
        var requests = as(WRITER).publishStream(observed);
        requests.onNext(request(1, "orders.eu"));
        assertEquals(0, answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS).getErrorCode());
        rewrite("tokens:\n" + token("writer", WRITER, "publish: ['audit']"));
        requests.onNext(request(2, "orders.eu"));
        requests.onNext(request(3, "audit"));
        PublishStreamResponse refused = answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(Status.Code.PERMISSION_DENIED.value(), refused.getErrorCode(), refused.toString());
        assertEquals(0, answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS).getErrorCode(), "the granted one goes on");
        rewrite("tokens: []\n");
        requests.onNext(request(4, "audit"));
        requests.onNext(request(5, "orders.eu"));
        for (int i = 0; i < 2; i++) {
            PublishStreamResponse gone = answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(Status.Code.UNAUTHENTICATED.value(), gone.getErrorCode(), gone.toString());
            assertFalse(gone.getErrorMessage().contains("ended"), "the stream goes on: " + gone.getErrorMessage());
        }
        // every request refused is a denial in the audit log, each with its topic
        List<String> denied = Files.readAllLines(dir.resolve("audit")).stream()
                .filter(l -> l.contains("\"rpc\":\"PublishStream\"") && l.contains("\"status\":\"UNAUTHENTICATED\""))
                .toList();
        assertTrue(denied.stream().anyMatch(l -> l.contains("\"topic\":\"audit\"")), denied.toString());
        assertTrue(denied.stream().anyMatch(l -> l.contains("\"topic\":\"orders.eu\"")), denied.toString());
        requests.onCompleted();
    }

    private static PublishStreamRequest request(long id, String topic) {
        return PublishStreamRequest.newBuilder().setRequestId(id).setTopic(topic)
                .setPayload(ByteString.copyFromUtf8("m" + id)).build();
    }
}
