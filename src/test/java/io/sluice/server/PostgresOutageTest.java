package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Await;
import io.sluice.client.OutboundMessage;
import io.sluice.client.Published;
import io.sluice.client.SluiceClient;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.store.DatabaseTarget;
import io.sluice.store.postgres.PostgresServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Subscribers while the database is away: an ack that was not stored does not leave a stream that
 * answers later syncs as if it had been, and the leases of a stream that ended meanwhile come back
 * once the database does, not when the group's ack wait has passed.
 */
class PostgresOutageTest {
    private static PostgresServer server;

    @TempDir
    Path dir;

    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void startDatabase() {
        server = PostgresServer.startPrivate();
    }

    @AfterAll
    static void stopDatabase() {
        server.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened.reversed()) {
            c.close();
        }
    }

    private TestBroker broker() {
        var url = new DatabaseTarget(server.url(server.freshSchema()), PostgresServer.PASSWORD);
        TestBroker b = TestBroker.start(dir.resolve("broker"), c -> c.withDatabase(url));
        opened.add(b);
        return b;
    }

    private <T extends AutoCloseable> T track(T c) {
        opened.add(c);
        return c;
    }

    private static List<Published> publish(TestBroker b, String topic, int n) {
        try (var client = SluiceClient.connect("127.0.0.1:" + b.port())) {
            var batch = new ArrayList<OutboundMessage>();
            for (int i = 0; i < n; i++) {
                batch.add(OutboundMessage.of(topic + i));
            }
            return client.publishBatch(topic, batch);
        }
    }

    /** Until the broker has reconnected to the database started again (a publish is stored). */
    private static void awaitDatabaseBack(TestBroker b) {
        var probe = PublishRequest.newBuilder().setTopic("reachable").setPayload(ByteString.copyFromUtf8("p")).build();
        Await.until("the broker reaches the database again", () -> {
            try {
                b.blocking().withDeadlineAfter(5, TimeUnit.SECONDS).publish(probe);
                return true;
            } catch (StatusRuntimeException e) {
                return false;
            }
        });
    }

    @Test
    void anExclusiveStreamWhoseAckWasNotStoredEndsAndTheGroupResumesAfterItsStoredCursor() throws Exception {
        TestBroker b = broker();
        List<Published> sent = publish(b, "acks", 5);
        var s = track(StreamClient.group(b.async(), "acks", "g", InitialPosition.EARLIEST));
        s.credit(5);
        var got = new ArrayList<MessageDelivery>();
        for (int i = 0; i < 5; i++) {
            got.add(s.delivery());
        }
        s.ack(got.get(0).getMessageId());
        s.sync(1);
        assertEquals(1, s.synced());

        server.stop();
        try {
            s.ack(got.get(4).getMessageId());
            // Not stored: the stream ends rather than take acks sent again for duplicates and answer a sync for
            // them.
            assertEquals(Status.Code.UNAVAILABLE, s.awaitClose().getCode(), () -> "closed with " + s.closedStatus());
        } finally {
            server.startAgain();
        }
        awaitDatabaseBack(b);

        var again = track(StreamClient.group(b.async(), "acks", "g", InitialPosition.EARLIEST));
        again.credit(1);
        assertEquals(sent.get(1).sequence(), again.delivery().getSequence(), "resumes after the stored cursor");
    }

    @Test
    void theLeasesOfASharedStreamThatEndedWhileTheDatabaseWasAwayComeBackWithIt() throws Exception {
        TestBroker b = broker();
        publish(b, "work", 3);
        var config = ConsumerGroupConfig.newBuilder().setAckWaitMs(90_000).addBackoffMs(10).build();
        var s = track(StreamClient.shared(b.async(), "work", "w", config));
        s.credit(3);
        for (int i = 0; i < 3; i++) {
            s.delivery();
        }
        try (var log = LogRecorder.install()) {
            server.stop();
            s.cancel();
            Await.until("the release failed while the database was away",
                    () -> log.warnings("io.sluice.delivery.Delivery", "were not released") > 0);
        } finally {
            server.startAgain();
        }
        awaitDatabaseBack(b);

        var next = track(StreamClient.shared(b.async(), "work", "w", config));
        next.credit(3);
        // within the stream's wait, far less than the 90 s ack wait
        assertEquals(2, next.delivery().getDeliveryCount());
    }
}
