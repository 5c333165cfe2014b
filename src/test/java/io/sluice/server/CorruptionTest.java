package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.sluice.Figures;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.store.sqlite.SqliteStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Damaged messages end to end: whatever altered a stored payload (an UPDATE behind the broker's
 * back, a byte flipped in the file, a damaged overflow page), a subscriber is delivered every
 * intact message before it, then DATA_LOSS naming the damaged one; never an altered payload. The
 * broker stays healthy, publishing goes on, and an operator's ResetCursor skips exactly that message.
 */
@ExtendWith(Figures.class)
class CorruptionTest {
    private static final Path FIXTURES = Path.of(System.getProperty("basedir", ".")).resolve("test-data");
    private static final String TOPIC = "t";

    @TempDir
    Path dir;

    private TestBroker broker;
    private final List<StreamClient> streams = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        streams.forEach(StreamClient::close);
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void aPayloadAlteredBehindTheBrokersBackReachesSubscribersAsDataLossNamingIt() throws Exception {
        broker = TestBroker.start(dir);
        List<PublishResponse> sent = publishAll(5, 0);
        long victim = sent.get(2).getSequence();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + ((SqliteStore) broker.server().store()).file());
             Statement st = c.createStatement()) {
            st.execute("PRAGMA busy_timeout = 10000");
            // One bit of the payload flipped; the stored checksum is left as it was.
            assertEquals(1, st.executeUpdate("UPDATE messages SET payload = cast(replace(cast(payload AS TEXT), "
                    + "'message-2', 'message-3') AS BLOB) WHERE seq = " + victim));
        }

        expectDamageAfterIntactOnes("g", sent, 2);
        expectDamageAfterIntactOnes("g", sent, 2);   // again on a reconnect: not silently skipped
        skipTheDamagedMessageAndGoOn("g", sent, 2);
        Figures.row("corruption: damaged rows end to end").cycles(1).corruptions(2);
    }

    @Test
    void aByteFlippedInTheDatabaseFileIsReportedAfterARestart() throws Exception {
        broker = TestBroker.start(dir);
        List<PublishResponse> sent = publishAll(5, 0);
        broker.close();   // a clean stop copies everything into sluice.db (and closes this broker's channels)
        Path file = dir.resolve(SqliteStore.FILE_NAME);
        byte[] bytes = Files.readAllBytes(file);
        byte[] mark = "message-3|".getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(bytes, mark);
        assertTrue(at > 0, "the payload is in the file");
        try (var f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at + 8);
            f.write(bytes[at + 8] ^ 0x01);   // "message-3" becomes "message-2"
        }
        broker = TestBroker.start(dir);   // quick_check passes: the b-tree is intact

        expectDamageAfterIntactOnes("g", sent, 3);
        skipTheDamagedMessageAndGoOn("g", sent, 3);
        Figures.row("corruption: damaged rows end to end").cycles(1).corruptions(1);
    }

    @Test
    void aDamagedOverflowPageIsServedAsDataLossForItsMessageOnly() throws Exception {
        Files.copy(FIXTURES.resolve("damaged-overflow.db"), dir.resolve(SqliteStore.FILE_NAME));
        dir.resolve(SqliteStore.FILE_NAME).toFile().setWritable(true);
        broker = TestBroker.start(dir);

        var s = track(StreamClient.group(broker.async(), TOPIC, "g", InitialPosition.EARLIEST));
        s.credit(100);
        for (int i = 0; i < 5; i++) {
            assertEquals("before-" + i, s.delivery().getPayload().toStringUtf8(), "the intact ones before it");
        }
        expectDataLoss(s, 6);
        reset("g", 6);
        var after = track(StreamClient.group(broker.async(), TOPIC, "g", InitialPosition.EARLIEST));
        after.credit(100);
        for (int i = 0; i < 5; i++) {
            assertEquals("after-" + i, after.delivery().getPayload().toStringUtf8(), "the ones after it");
        }
        assertHealthy();
        Figures.row("corruption: damaged pages").cycles(1).corruptions(1);
    }

    /** A group stream with ample credit gets the intact messages before {@code damaged}, then DATA_LOSS. */
    private void expectDamageAfterIntactOnes(String group, List<PublishResponse> sent, int damaged)
            throws InterruptedException {
        var s = track(StreamClient.group(broker.async(), TOPIC, group, InitialPosition.EARLIEST));
        s.credit(100);
        for (int i = 0; i < damaged; i++) {
            MessageDelivery d = s.delivery();
            assertEquals(sent.get(i).getSequence(), d.getSequence(), "intact message " + i + " is delivered");
            assertEquals("message-" + i + "|", d.getPayload().toStringUtf8().substring(0, 10));
        }
        expectDataLoss(s, sent.get(damaged).getSequence());
        var browse = track(StreamClient.browse(broker.async(), TOPIC, InitialPosition.EARLIEST, 0));
        browse.credit(100);
        for (int i = 0; i < damaged; i++) {
            assertEquals(sent.get(i).getSequence(), browse.delivery().getSequence());
        }
        expectDataLoss(browse, sent.get(damaged).getSequence());
        assertHealthy();
    }

    /** The operator moves the group past the damaged message: delivery goes on after it, and publishing works. */
    private void skipTheDamagedMessageAndGoOn(String group, List<PublishResponse> sent, int damaged)
            throws InterruptedException {
        reset(group, sent.get(damaged).getSequence());
        List<PublishResponse> more = publishAll(2, sent.size());
        var s = track(StreamClient.group(broker.async(), TOPIC, group, InitialPosition.EARLIEST));
        s.credit(100);
        for (int i = damaged + 1; i < sent.size(); i++) {
            assertEquals(sent.get(i).getSequence(), s.delivery().getSequence(), "message " + i + " after the damage");
        }
        for (PublishResponse r : more) {
            assertEquals(r.getSequence(), s.delivery().getSequence(), "new messages flow");
        }
    }

    private static void expectDataLoss(StreamClient s, long sequence) throws InterruptedException {
        for (SubscribeDownstream m : s.awaitCloseCollecting()) {
            assertTrue(!m.hasDelivery(), "an altered payload was delivered: sequence " + m.getDelivery().getSequence()
                    + " \"" + m.getDelivery().getPayload().toStringUtf8() + "\"");
        }
        Status status = s.awaitClose();
        assertEquals(Status.Code.DATA_LOSS, status.getCode(), status.toString());
        assertTrue(status.getDescription().contains("message " + sequence + " in topic " + TOPIC + " is damaged"),
                "names the message: " + status);
    }

    private List<PublishResponse> publishAll(int n, int from) {
        var client = broker.blocking();
        var out = new ArrayList<PublishResponse>();
        for (int i = from; i < from + n; i++) {
            out.add(client.publish(PublishRequest.newBuilder().setTopic(TOPIC)
                    .setPayload(ByteString.copyFromUtf8("message-" + i + "|" + "p".repeat(30))).build()));
        }
        return out;
    }

    private void reset(String group, long sequence) {
        assertTrue(broker.blocking().resetCursor(ResetCursorRequest.newBuilder().setTopic(TOPIC)
                .setConsumerGroup(group).setSequence(sequence).build()).getUpdated());
    }

    private void assertHealthy() {
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(broker.channel())
                .withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()).getStatus());
        broker.blocking().publish(PublishRequest.newBuilder().setTopic("other")
                .setPayload(ByteString.copyFromUtf8("still publishing")).build());
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
