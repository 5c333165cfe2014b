package io.sluice.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.Topic;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Authentication and per-topic grants against the real broker with an auth file: every RPC without
 * its grant is refused, tokens that are missing, unknown, expired or revoked are refused, listings
 * are filtered, and the audit log records admin calls and denials without ever holding a secret.
 */
class GrantsTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Map<String, String> TOKENS = Map.of(
            "full", Tokens.generate(), "pub", Tokens.generate(), "sub", Tokens.generate(), "adm", Tokens.generate(),
            "orders", Tokens.generate(), "old", Tokens.generate(), "gone", Tokens.generate());

    @TempDir
    Path dir;
    private TestBroker broker;
    private Path authFile;
    private Path audit;
    private final List<String> logged = new ArrayList<>();
    private final Handler logs = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (logged) {
                logged.add(r.getMessage() + " " + r.getThrown());
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void start() throws IOException {
        Logger.getLogger("").addHandler(logs);
        authFile = dir.resolve("auth.yaml");
        audit = dir.resolve("audit.log");
        Files.writeString(authFile, authYaml(true));
        broker = TestBroker.start(dir.resolve("data"),
                SecurityConfig.none().withAuth(authFile, audit).withReloadInterval(Duration.ofMinutes(10)));
    }

    private static String authYaml(boolean withGone) {
        return "tokens:\n"
                + entry("full", "publish: ['>']\n    subscribe: ['>']\n    admin: ['>']")
                + entry("pub", "publish: ['>']")
                + entry("sub", "subscribe: ['>']")
                + entry("adm", "admin: ['>']")
                + entry("orders", "publish: ['orders.*']\n    subscribe: ['orders.>']")
                + entry("old", "publish: ['>']\n    expires: 2020-01-01T00:00:00Z")
                + (withGone ? entry("gone", "publish: ['>']") : "")
                + "anonymous:\n  subscribe: ['public.>']\n";
    }

    private static String entry(String id, String grants) {
        return "  - id: " + id + "\n    sha256: " + Tokens.sha256Hex(TOKENS.get(id)) + "\n    " + grants + "\n";
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
        Logger.getLogger("").removeHandler(logs);
    }

    private SluiceGrpc.SluiceBlockingStub blocking(String id) {
        return SluiceGrpc.newBlockingStub(broker.channel()).withInterceptors(bearer(TOKENS.get(id)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private SluiceGrpc.SluiceStub async(String id) {
        return SluiceGrpc.newStub(broker.channel()).withInterceptors(bearer(TOKENS.get(id)));
    }

    private static io.grpc.ClientInterceptor bearer(String token) {
        var headers = new Metadata();
        headers.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
        return MetadataUtils.newAttachHeadersInterceptor(headers);
    }

    private static Status.Code code(Runnable call) {
        try {
            call.run();
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            String description = String.valueOf(e.getStatus().getDescription());
            assertFalse(TOKENS.values().stream().anyMatch(t -> description.contains(t)
                    || String.valueOf(e.getTrailers()).contains(t)), "a status echoes a token: " + e);
            return e.getStatus().getCode();
        }
    }

    private void publish(String id, String topic) {
        blocking(id).publish(PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFromUtf8("x"))
                .build());
    }

    /** One RPC run as a principal: its status code (a stream's error code or final status). */
    private Status.Code run(String rpc, String id) throws InterruptedException {
        String topic = "t.a";
        return switch (rpc) {
            case "Publish" -> code(() -> publish(id, topic));
            case "BatchPublish" -> code(() -> blocking(id).batchPublish(BatchPublishRequest.newBuilder().setTopic(topic)
                    .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("b"))).build()));
            case "PublishStream" -> publishStream(id, topic);
            case "Subscribe" -> subscribe(StreamClient.group(async(id), topic, "g", InitialPosition.EARLIEST));
            case "SubscribeBrowse" -> subscribe(StreamClient.browse(async(id), topic, InitialPosition.EARLIEST, 0));
            case "DeleteTopic" -> code(() -> blocking(id).deleteTopic(DeleteTopicRequest.newBuilder()
                    .setTopic("t.scratch").build()));
            case "DeleteConsumerGroup" -> code(() -> blocking(id).deleteConsumerGroup(DeleteConsumerGroupRequest
                    .newBuilder().setTopic(topic).setConsumerGroup("other").build()));
            case "ResetCursor" -> code(() -> blocking(id).resetCursor(ResetCursorRequest.newBuilder().setTopic(topic)
                    .setConsumerGroup("g").setSequence(0).build()));
            default -> throw new IllegalArgumentException(rpc);
        };
    }

    private Status.Code subscribe(StreamClient s) throws InterruptedException {
        try (s) {
            var first = s.next();
            if (first.hasError()) {
                assertEquals("PERMISSION_DENIED", first.getError().getCode());
                Status.Code closed = s.awaitClose().getCode();
                assertEquals(Status.Code.PERMISSION_DENIED, closed);
                return closed;
            }
            assertTrue(first.hasHeartbeat() || first.hasDelivery(), "unexpected " + first);
            return Status.Code.OK;
        }
    }

    private Status.Code publishStream(String id, String topic) throws InterruptedException {
        var answers = new LinkedBlockingQueue<Object>();
        var requests = async(id).publishStream(new StreamObserver<>() {
            @Override
            public void onNext(PublishStreamResponse r) {
                answers.add(r);
            }

            @Override
            public void onError(Throwable t) {
                answers.add(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        requests.onNext(PublishStreamRequest.newBuilder().setRequestId(7).setTopic(topic)
                .setPayload(ByteString.copyFromUtf8("s")).build());
        Object answer = answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        requests.onCompleted();
        if (answer instanceof PublishStreamResponse r) {
            assertEquals(7, r.getRequestId());
            return Status.fromCodeValue(r.getErrorCode()).getCode();
        }
        throw new AssertionError("no answer on the PublishStream: " + answer);
    }

    @Test
    void everyRpcWithoutItsGrantIsDeniedAndWithItIsServed() throws InterruptedException {
        publish("full", "t.a");
        publish("full", "t.scratch");
        Map<String, String> needs = Map.of("Publish", "pub", "BatchPublish", "pub", "PublishStream", "pub",
                "Subscribe", "sub", "SubscribeBrowse", "sub", "DeleteTopic", "adm", "DeleteConsumerGroup", "adm",
                "ResetCursor", "adm");
        var failures = new ArrayList<String>();
        for (var rpc : needs.entrySet()) {
            for (String id : List.of("pub", "sub", "adm")) {
                boolean granted = id.equals(rpc.getValue());
                if (granted && rpc.getKey().equals("DeleteTopic")) {
                    publish("full", "t.scratch");
                }
                Status.Code got = run(rpc.getKey(), id);
                boolean ok = granted ? got == Status.Code.OK : got == Status.Code.PERMISSION_DENIED;
                if (!ok) {
                    failures.add(rpc.getKey() + " as " + id + ": " + got);
                }
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void aPublishStreamRequestWithoutItsGrantFailsAloneInOrder() throws InterruptedException {
        var observed = new PublishStreamAnswers();
        var answers = observed.answers;
        var requests = async("orders").publishStream(observed);
        for (int i = 1; i <= 3; i++) {
            requests.onNext(PublishStreamRequest.newBuilder().setRequestId(i)
                    .setTopic(i == 2 ? "billing.x" : "orders.eu")
                    .setPayload(ByteString.copyFromUtf8("m" + i)).build());
        }
        var got = new ArrayList<PublishStreamResponse>();
        for (int i = 0; i < 3; i++) {
            got.add(answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS));
        }
        requests.onCompleted();
        assertEquals(List.of(1L, 2L, 3L), got.stream().map(PublishStreamResponse::getRequestId).toList());
        assertEquals(List.of(0, Status.Code.PERMISSION_DENIED.value(), 0),
                got.stream().map(PublishStreamResponse::getErrorCode).toList());
        assertTrue(got.get(1).getErrorMessage().contains("billing.x"), got.get(1).getErrorMessage());
    }

    @Test
    void aGrantOnOneTokenAdmitsNoDeeperTopic() {
        assertEquals(Status.Code.OK, code(() -> publish("orders", "orders.eu")));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> publish("orders", "orders.eu.x")));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> publish("orders", "orders")));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> publish("orders", "ordersx.eu")));
    }

    @Test
    void aSubscribeNamingADeadLetterTopicWithoutItsPublishGrantGetsTheStreamErrorThenTheStatus() throws Exception {
        var config = io.sluice.proto.ConsumerGroupConfig.newBuilder().setMaxDeliveries(3)
                .setDeadLetterTopic("billing.dlq").build();
        assertEquals(Status.Code.PERMISSION_DENIED,
                subscribe(StreamClient.shared(async("orders"), "orders.eu", "workers", config)));
        var granted = io.sluice.proto.ConsumerGroupConfig.newBuilder().setMaxDeliveries(3)
                .setDeadLetterTopic("orders.dlq").build();
        assertEquals(Status.Code.OK, subscribe(StreamClient.shared(async("orders"), "orders.eu", "workers", granted)));
    }

    @Test
    void listingsShowOnlyTopicsTheCallerHoldsAGrantOn() {
        for (String t : List.of("orders.eu", "orders.us", "billing.a", "public.news")) {
            publish("full", t);
        }
        publish("full", "orders.eu.deep");
        assertEquals(List.of("orders.eu", "orders.eu.deep", "orders.us"), blocking("orders")
                .listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList().stream().map(Topic::getName)
                .toList());
        assertEquals(List.of("orders.eu", "orders.us"), blocking("orders")
                .getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("orders.eu").addTopics("orders.us")
                        .addTopics("billing.a").build())
                .getStatsList().stream().map(io.sluice.proto.TopicStats::getTopic).toList());
        var anonymous = SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        assertEquals(List.of("public.news"), anonymous.listTopics(ListTopicsRequest.getDefaultInstance())
                .getTopicsList().stream().map(Topic::getName).toList());
        assertEquals(5, blocking("full").listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsCount());
    }

    @Test
    void pagesAndTheirTokensPassOverHiddenTopicsWithoutATrace() {
        for (String t : List.of("aaa.hidden", "orders.eu", "billing.a", "orders.us", "public.news", "zzz.hidden")) {
            publish("full", t);
        }
        var anonymous = SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        for (var caller : List.of(blocking("orders"), anonymous)) {
            var seen = new ArrayList<String>();
            var tokens = new ArrayList<String>();
            String token = "";
            do {
                var page = caller.listTopics(ListTopicsRequest.newBuilder().setPageSize(1).setPageToken(token).build());
                assertEquals(1, page.getTopicsCount(), "no empty page counts hidden topics");
                seen.add(page.getTopics(0).getName());
                token = page.getNextPageToken();
                tokens.add(token);
            } while (!token.isEmpty());
            token = "";
            do {
                var page = caller.getTopicStats(GetTopicStatsRequest.newBuilder().setPageSize(1).setPageToken(token)
                        .build());
                assertEquals(1, page.getStatsCount());
                token = page.getNextPageToken();
                tokens.add(token);
            } while (!token.isEmpty());
            assertTrue(seen.equals(List.of("orders.eu", "orders.us")) || seen.equals(List.of("public.news")),
                    seen.toString());
            for (String t : tokens) {
                String decoded = new String(java.util.Base64.getUrlDecoder().decode(t), StandardCharsets.UTF_8);
                assertFalse(decoded.contains("hidden") || decoded.contains("billing"), decoded);
            }
        }
        // Whether a named hidden topic exists does not show: the same answer as for one that does not.
        var named = GetTopicStatsRequest.newBuilder().setPageSize(1).addTopics("public.news");
        assertEquals(anonymous.getTopicStats(named.clone().addTopics("zzz.none").build()),
                anonymous.getTopicStats(named.clone().addTopics("zzz.hidden").build()));
    }

    @Test
    void aNameTheBrokerRefusesIsInvalidArgumentForEveryCallerAndNeverEchoedWhole() throws Exception {
        String huge = "orders." + "x".repeat(30_000);
        var anonymous = SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        for (var caller : List.of(blocking("orders"), blocking("adm"), anonymous)) {
            assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> caller.publish(PublishRequest.newBuilder()
                    .setTopic(huge).build())));
            assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> caller.deleteTopic(DeleteTopicRequest.newBuilder()
                    .setTopic(huge).build())));
        }
        var observed = new PublishStreamAnswers();
        var answers = observed.answers;
        var ended = observed.ended;
        var stream = async("orders").publishStream(observed);
        stream.onNext(PublishStreamRequest.newBuilder().setRequestId(1).setTopic(huge).build());
        stream.onCompleted();
        assertEquals(Status.Code.OK, ended.get(30, TimeUnit.SECONDS).getCode());
        PublishStreamResponse answer = answers.poll();
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), answer.getErrorCode(), answer.toString());
        assertTrue(answer.getErrorMessage().length() < 200, answer.getErrorMessage());
        for (String line : Files.readAllLines(audit)) {
            assertTrue(line.length() < 1_000, "an audit line of " + line.length() + " characters");
        }
    }

    @Test
    void withAnAuthFileTheMetricsAndConsoleStayOnLoopbackUnlessAnAddressIsGiven() {
        assertEquals("127.0.0.1", broker.server().security().metricsHost("0.0.0.0"),
                "the console's peek shows payloads the auth file would not let a caller read");
        try (var given = Security.start(SecurityConfig.none().withAuth(authFile, null).withMetricsHost("10.1.2.3"));
             var open = Security.start(SecurityConfig.none())) {
            assertEquals("10.1.2.3", given.metricsHost("0.0.0.0"));
            assertEquals("0.0.0.0", open.metricsHost("0.0.0.0"), "without an auth file: the gRPC host");
        }
    }

    @Test
    void missingUnknownExpiredAndRevokedTokensAreUnauthenticated() throws Exception {
        var anonymous = SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> anonymous.publish(PublishRequest.newBuilder()
                .setTopic("public.x").build())), "anonymous may subscribe only");
        var wrong = SluiceGrpc.newBlockingStub(broker.channel()).withInterceptors(bearer(Tokens.generate()));
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> wrong.listTopics(ListTopicsRequest.getDefaultInstance())));
        var malformed = SluiceGrpc.newBlockingStub(broker.channel()).withInterceptors(malformedHeader());
        assertEquals(Status.Code.UNAUTHENTICATED,
                code(() -> malformed.listTopics(ListTopicsRequest.getDefaultInstance())));
        var two = new Metadata();   // a weak token and a strong one: neither is taken
        two.put(AuthInterceptor.AUTHORIZATION, "Bearer " + TOKENS.get("sub"));
        two.put(AuthInterceptor.AUTHORIZATION, "Bearer " + TOKENS.get("full"));
        var doubled = SluiceGrpc.newBlockingStub(broker.channel())
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(two));
        assertEquals(Status.Code.UNAUTHENTICATED,
                code(() -> doubled.listTopics(ListTopicsRequest.getDefaultInstance())));
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> publish("old", "t.a")));

        assertEquals(Status.Code.OK, code(() -> publish("gone", "t.a")));
        Files.writeString(authFile, authYaml(false));
        assertTrue(broker.server().security().reloadAndWait(WAIT));
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> publish("gone", "t.a")));
        assertEquals(Status.Code.OK, code(() -> publish("pub", "t.a")));
    }

    private static io.grpc.ClientInterceptor malformedHeader() {
        var headers = new Metadata();
        headers.put(AuthInterceptor.AUTHORIZATION, "Basic dXNlcjpwYXNz");
        return MetadataUtils.newAttachHeadersInterceptor(headers);
    }

    @Test
    void anAuthFileWithAnErrorIsRefusedAndTheOldOneKept() throws Exception {
        Files.writeString(authFile, "tokens:\n  - id: broken\n    sha256: nothex\n");
        assertTrue(broker.server().security().reloadAndWait(WAIT));
        assertEquals(Status.Code.OK, code(() -> publish("pub", "t.a")));
        Files.delete(authFile);
        assertTrue(broker.server().security().reloadAndWait(WAIT));
        assertEquals(Status.Code.OK, code(() -> publish("pub", "t.a")));
        synchronized (logged) {
            assertTrue(logged.stream().anyMatch(l -> l.contains("kept the previous auth file")
                    && l.contains(authFile + " is missing")), logged.toString());
        }
    }

    @Test
    void theAuditLogHasALinePerAdminCallAndDenialAndNoSecret() throws Exception {
        publish("full", "t.a");
        code(() -> blocking("adm").resetCursor(ResetCursorRequest.newBuilder().setTopic("t.a").setConsumerGroup("g")
                .setSequence(0).build()));
        code(() -> blocking("adm").deleteTopic(DeleteTopicRequest.newBuilder().setTopic("t.none").build()));
        code(() -> publish("sub", "t.a"));
        code(() -> SluiceGrpc.newBlockingStub(broker.channel()).withInterceptors(bearer(Tokens.generate()))
                .listTopics(ListTopicsRequest.getDefaultInstance()));
        code(() -> publish("old", "t.a"));
        var denied = assertThrows(StatusRuntimeException.class, () -> blocking("adm").configureConsumerGroup(
                io.sluice.proto.ConfigureConsumerGroupRequest.newBuilder().setTopic("t.a").setConsumerGroup("w")
                        .setMode(io.sluice.proto.SubscriptionMode.SHARED).setConfig(io.sluice.proto.ConsumerGroupConfig
                                .newBuilder().setMaxDeliveries(3).setDeadLetterTopic("t.dlq")).build()));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
        assertEquals("token 'adm' holds no publish grant on topic t.dlq, named as the dead_letter_topic of group w "
                + "on topic t.a", denied.getStatus().getDescription());
        List<String> lines = Files.readAllLines(audit);
        assertEquals(6, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(5).contains("\"rpc\":\"ConfigureConsumerGroup\"")   // the call's own topic and group
                && lines.get(5).contains("\"topic\":\"t.a\"") && lines.get(5).contains("\"group\":\"w\"")
                && lines.get(5).contains("\"decision\":\"deny\""), "one line, the denial: " + lines.get(5));
        assertTrue(lines.get(0).contains("\"principal\":\"adm\"") && lines.get(0).contains("\"rpc\":\"ResetCursor\"")
                && lines.get(0).contains("\"topic\":\"t.a\"") && lines.get(0).contains("\"group\":\"g\"")
                && lines.get(0).contains("\"decision\":\"allow\"") && lines.get(0).contains("\"status\":\"OK\""),
                lines.get(0));
        assertTrue(lines.get(1).contains("\"rpc\":\"DeleteTopic\"") && lines.get(1).contains("\"credential\":\"token\"")
                && lines.get(1).contains("\"credential_id\":\"adm\""), lines.get(1));
        assertTrue(lines.get(2).contains("\"principal\":\"sub\"") && lines.get(2).contains("\"decision\":\"deny\"")
                && lines.get(2).contains("\"status\":\"PERMISSION_DENIED\"")
                && lines.get(2).contains("\"peer\":\"/127.0.0.1:"),
                lines.get(2));
        assertTrue(lines.get(3).contains("\"status\":\"UNAUTHENTICATED\"")
                && lines.get(3).contains("\"principal\":\"\""), lines.get(3));
        assertTrue(lines.get(4).contains("\"status\":\"UNAUTHENTICATED\"")
                && lines.get(4).contains("\"principal\":\"old\"") && lines.get(4).contains("\"credential_id\":\"old\""),
                "an expired token is named: " + lines.get(4));
        String everything = String.join("\n", lines) + "\n" + String.join("\n", snapshot());
        for (String token : TOKENS.values()) {
            assertFalse(everything.contains(token), "a token appears in the audit log or the logs");
        }
    }

    private List<String> snapshot() {
        synchronized (logged) {
            return List.copyOf(logged);
        }
    }

    @Test
    void withoutCredentialsOrAnonymousGrantCallsAreUnauthenticatedButHealthIsOpen() throws Exception {
        Files.writeString(authFile, authYaml(true).replace("anonymous:\n  subscribe: ['public.>']\n", ""));
        assertTrue(broker.server().security().reloadAndWait(WAIT));
        var anonymous = SluiceGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> anonymous.listTopics(ListTopicsRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        var health = io.grpc.health.v1.HealthGrpc.newBlockingStub(broker.channel());
        assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING,
                health.check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance()).getStatus());
    }
}
