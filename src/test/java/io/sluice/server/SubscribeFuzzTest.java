package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.sluice.delivery.Subscription;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.sluice.Figures;
import io.sluice.proto.Ack;
import io.sluice.proto.BatchAck;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.Nack;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random sequences of upstream messages (init, credit, ack, nack, batch ack with valid, random and
 * garbage ids, empty messages) into live Subscribe streams of a real broker, from a fixed seed
 * (printed; {@code -Dsluice.seed=N} replays one). A model says how each sequence must end: a
 * stream that must survive it gets a second init last, so it must close with exactly
 * INVALID_ARGUMENT "init was already sent": proof that everything before was taken without ending
 * the stream. Deliveries never exceed the credit granted and are always the published payloads.
 * A second part sends valid messages with random bytes flipped. Afterwards no stream is left, the
 * broker is SERVING, nothing was logged as an error, and publish and delivery work.
 */
@ExtendWith(Figures.class)
class SubscribeFuzzTest {
    private static final String TOPIC = "fuzz";
    private static final int MESSAGES = 40;

    @TempDir
    Path dir;

    private TestBroker broker;
    private io.grpc.ManagedChannel channel;   // one for all the streams: TestBroker closes it
    private LogRecorder logs;
    private final Map<Long, ByteString> published = new HashMap<>();
    private final List<String> ids = new ArrayList<>();

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
        channel = broker.channel();
        logs = LogRecorder.install();
        var client = broker.blocking();
        for (int i = 0; i < MESSAGES; i++) {
            ByteString payload = ByteString.copyFromUtf8("fuzz-" + i + "|" + "z".repeat(i));
            PublishResponse r = client.publish(PublishRequest.newBuilder().setTopic(TOPIC).setPayload(payload).build());
            published.put(r.getSequence(), payload);
            ids.add(r.getMessageId());
        }
    }

    @AfterEach
    void stop() throws InterruptedException {
        logs.close();
        broker.close();
    }

    /** The kinds of upstream message the fuzzer sends. */
    private enum Kind { INIT, BAD_INIT, CREDIT, ACK, NACK, BATCH_ACK, EMPTY }

    @Test
    void randomUpstreamSequencesAreAnsweredAsTheModelSaysAndLeaveTheBrokerHealthy() throws Exception {
        long seed = Long.getLong("sluice.seed", 20_251_122L);
        int iterations = Figures.scaled(300, 10_000);
        var random = new Random(seed);
        System.out.printf("SubscribeFuzzTest: seed %d (replay with -Dsluice.seed=%d), %d sequences%n", seed, seed,
                iterations);
        int sent = 0;
        int delivered = 0;
        var endings = new HashMap<String, Integer>();
        for (int i = 0; i < iterations; i++) {
            var s = StreamClient.open(io.sluice.proto.SluiceGrpc.newStub(channel));
            boolean initialized = false;
            String expected = null;   // the description fragment the stream must end with; null: still open
            long credit = 0;
            var log = new ArrayList<String>();
            int length = 1 + random.nextInt(12);
            for (int m = 0; m < length && expected == null; m++) {
                Kind kind = pick(random, initialized);
                SubscribeUpstream message = message(kind, random);
                log.add(kind.name());
                s.send(message);
                sent++;
                if (!initialized) {
                    if (kind == Kind.INIT && offsetPastTheEnd(message.getInit())) {
                        expected = "beyond the end";
                    } else if (kind == Kind.INIT) {
                        initialized = true;
                    } else {
                        expected = kind == Kind.BAD_INIT ? "" : "must be init";
                    }
                } else if (kind == Kind.INIT || kind == Kind.BAD_INIT) {
                    expected = "already sent";
                } else if (kind == Kind.EMPTY) {
                    expected = "must carry init, credit";
                } else if (kind == Kind.CREDIT) {
                    credit += Integer.toUnsignedLong(message.getCredit().getCredits());
                } else if (kind == Kind.NACK && Integer.toUnsignedLong(message.getNack().getRedeliveryDelayMs())
                        > Subscription.MAX_NACK_DELAY_MS) {
                    expected = "exceeds the maximum";
                }
            }
            if (expected == null) {
                if (!initialized) {
                    s.send(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(1)).build());
                    expected = "must be init";
                } else {
                    s.send(message(Kind.INIT, random));   // the terminator
                    expected = "already sent";
                }
                sent++;
            }
            Status status = s.awaitClose();
            String context = "sequence " + i + " " + log + " (seed " + seed + ")";
            assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode(), context + ": " + status);
            assertTrue(status.getDescription().contains(expected), context + ": expected \"" + expected + "\", got "
                    + status);
            int n = 0;
            for (SubscribeDownstream d : s.awaitCloseCollecting()) {
                assertTrue(!d.hasError(), context + ": a protocol error ends with a status only: " + d);
                if (d.hasDelivery()) {
                    MessageDelivery m = d.getDelivery();
                    assertEquals(published.get(m.getSequence()), m.getPayload(), context + ": intact payload");
                    assertTrue(m.getDeliveryCount() >= 1, context);
                    n++;
                }
            }
            assertTrue(n <= credit, context + ": " + n + " deliveries on " + credit + " credits");
            delivered += n;
            endings.merge(expected.isEmpty() ? "bad init" : expected, 1, Integer::sum);
        }
        sent += mutatedMessages(random, Figures.scaled(300, 10_000));
        awaitNoStreams();
        assertHealthyAndWorking();
        assertEquals(List.of(), logs.severe(), "nothing logged as an error");
        System.out.printf("SubscribeFuzzTest: seed %d, %d sequences, %d upstream messages, %d deliveries, endings %s; "
                + "no stream left, SERVING%n", seed, iterations, sent, delivered, endings);
        Figures.row("fuzz: Subscribe upstream sequences").cycles(iterations).inputs(sent);
    }

    /** Valid messages with random bits flipped, between a valid init and a second one: INVALID_ARGUMENT, always. */
    private int mutatedMessages(Random random, int iterations) throws InterruptedException {
        String method = io.sluice.proto.SluiceGrpc.getSubscribeMethod().getFullMethodName();
        byte[] init = message(Kind.INIT, random).toByteArray();
        int sent = 0;
        for (int i = 0; i < iterations; i++) {
            byte[] bytes = message(Kind.values()[2 + random.nextInt(4)], random).toByteArray();
            for (int flips = 1 + random.nextInt(3); flips > 0 && bytes.length > 0; flips--) {
                bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
            }
            RawGrpc.Ended end = RawGrpc.bidi(channel, method, List.of(init, bytes, init));
            assertEquals(Status.Code.INVALID_ARGUMENT, end.status() == null ? null : end.status().getCode(),
                    "mutated message " + i + ": " + end.status());
            sent += 3;
        }
        return sent;
    }

    private static Kind pick(Random random, boolean initialized) {
        int r = random.nextInt(100);
        if (!initialized) {
            return r < 80 ? Kind.INIT : r < 88 ? Kind.BAD_INIT : Kind.values()[2 + random.nextInt(5)];
        }
        return r < 3 ? Kind.INIT : r < 5 ? Kind.EMPTY : r < 40 ? Kind.CREDIT : r < 60 ? Kind.ACK : r < 80 ? Kind.NACK
                : Kind.BATCH_ACK;
    }

    /** A start offset past the topic's end is refused, as ResetCursor refuses such a cursor. */
    private boolean offsetPastTheEnd(SubscriptionInit init) {
        long last = java.util.Collections.max(published.keySet());
        return init.getInitialPosition() == InitialPosition.OFFSET
                && (init.getOffset() < 0 || init.getOffset() > last + 1);
    }

    private SubscribeUpstream message(Kind kind, Random random) {
        var b = SubscribeUpstream.newBuilder();
        switch (kind) {
            case INIT -> {
                var init = SubscriptionInit.newBuilder().setTopic(TOPIC);
                if (random.nextInt(4) == 0) {
                    init.setMode(SubscriptionMode.BROWSE);
                } else {
                    init.setConsumerGroup(random.nextInt(5) == 0 ? "" : "g" + random.nextInt(4));
                }
                switch (random.nextInt(4)) {
                    case 0 -> init.setInitialPosition(InitialPosition.LATEST);
                    case 1 -> init.setInitialPosition(InitialPosition.EARLIEST);
                    default -> init.setInitialPosition(InitialPosition.OFFSET).setOffset(
                            random.nextBoolean() ? random.nextInt(MESSAGES + 5) : random.nextLong());
                }
                b.setInit(init);
            }
            case BAD_INIT -> b.setInit(SubscriptionInit.newBuilder().setTopic(random.nextBoolean() ? "" : "bad topic"));
            case CREDIT -> b.setCredit(CreditGrant.newBuilder().setCredits(switch (random.nextInt(5)) {
                case 0 -> 0;
                case 1 -> -1;   // uint32 max
                case 2 -> 1;
                default -> random.nextInt(20);
            }));
            case ACK -> b.setAck(Ack.newBuilder().setMessageId(id(random)));
            case NACK -> b.setNack(Nack.newBuilder().setMessageId(id(random))
                    .setRedeliveryDelayMs(random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(20)));
            case BATCH_ACK -> {
                var ack = BatchAck.newBuilder();
                for (int n = random.nextInt(6); n > 0; n--) {
                    ack.addMessageIds(id(random));
                }
                b.setBatchAck(ack);
            }
            case EMPTY -> {
            }
        }
        return b.build();
    }

    /** A published id, a random UUIDv7 naming some sequence, or garbage. */
    private String id(Random random) {
        return switch (random.nextInt(6)) {
            case 0, 1, 2 -> ids.get(random.nextInt(ids.size()));
            case 3 -> new UUID(random.nextLong() & ~0xF000L | 0x7000L,
                    0x8000_0000_0000_0000L | random.nextInt(MESSAGES + 10)).toString();
            case 4 -> "";
            default -> Long.toHexString(random.nextLong());
        };
    }

    private void awaitNoStreams() {
        broker.awaitStreams(0);
    }

    private void assertHealthyAndWorking() throws InterruptedException {
        var status = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance()).getStatus();
        if (status != HealthCheckResponse.ServingStatus.SERVING) {
            Figures.row("fuzz: Subscribe upstream sequences").crashes(1);
        }
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, status);
        PublishResponse r = broker.blocking().publish(PublishRequest.newBuilder().setTopic("after-fuzz")
                .setPayload(ByteString.copyFromUtf8("still works")).build());
        try (var s = StreamClient.group(broker.async(), "after-fuzz", "check", InitialPosition.EARLIEST)) {
            s.credit(1);
            assertEquals(r.getSequence(), s.delivery().getSequence());
        }
    }
}
