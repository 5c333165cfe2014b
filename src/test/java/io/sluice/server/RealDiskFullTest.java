package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Await;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file system the broker really fills (a 36 MiB tmpfs, mounted as root as CI runs; skipped
 * elsewhere): SQLite then cannot fold its log into the database, so without the reserve no write at
 * all went through, a deletion no more than a publish. With it: publishes are refused, existing
 * groups still read and ack, DeleteTopic frees room, and publishing resumes by itself, no restart.
 */
class RealDiskFullTest {
    private static final ByteString KB20 = ByteString.copyFrom(new byte[20 * 1024]);

    @TempDir
    Path dir;

    private Path mount;
    private TestBroker broker;

    @AfterEach
    void stop() throws Exception {
        if (broker != null) {
            broker.close();
        }
        if (mount != null) {
            run("umount", mount.toString());
        }
    }

    @Test
    void theBrokerFreesADiskItFilledAndPublishingResumesWithoutARestart() throws Exception {
        mount = Files.createDirectories(dir.resolve("small"));
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=36m", "tmpfs", mount.toString()) == 0,
                "mount -t tmpfs is not allowed here");
        broker = TestBroker.start(mount.resolve("data"));
        var client = broker.blocking();
        for (int i = 0; i < 500; i++) {   // 10 MB that DeleteTopic frees, twice: over twice the 4 MiB reserve
            publish(client, "old");
            publish(client, "older");
        }
        var original = client.publish(PublishRequest.newBuilder().setTopic("orders").setPayload(KB20)
                .setDedupId("order-1").build());
        try (var reader = StreamClient.group(broker.async(), "orders", "billing", InitialPosition.EARLIEST)) {
            reader.credit(1);
            reader.ack(reader.delivery().getMessageId());
        }
        StatusRuntimeException full = null;
        for (int i = 0; i < 2000 && full == null; i++) {
            try {
                publish(client, "orders");
            } catch (StatusRuntimeException e) {
                full = e;
            }
        }
        assertTrue(full != null, "36 MiB filled");
        assertEquals(Status.Code.UNAVAILABLE, full.getStatus().getCode(), full.toString());
        assertTrue(full.getStatus().getDescription().contains("full"), full.toString());
        // What needs no room is still answered: a retried publish its original, a stale expectation its refusal.
        var again = client.publish(PublishRequest.newBuilder().setTopic("orders").setPayload(KB20)
                .setDedupId("order-1").build());
        assertTrue(again.getDuplicate());
        assertEquals(original.getSequence(), again.getSequence());
        assertEquals(original.getTimestamp(), again.getTimestamp());
        var stale = assertThrows(StatusRuntimeException.class, () -> client.publish(PublishRequest.newBuilder()
                .setTopic("orders").setPayload(KB20).setExpectedLastSequence(original.getSequence()).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, stale.getStatus().getCode(), stale.toString());
        var fresh = assertThrows(StatusRuntimeException.class, () -> client.publish(PublishRequest.newBuilder()
                .setTopic("orders").setPayload(KB20).setDedupId("order-2").build()));
        assertEquals(Status.Code.UNAVAILABLE, fresh.getStatus().getCode(), fresh.toString());

        try (var reader = StreamClient.group(broker.async(), "orders", "billing", InitialPosition.EARLIEST)) {
            reader.credit(2);
            reader.ack(reader.delivery().getMessageId());   // an existing group reads and acks on the full disk
            reader.delivery();
        }
        assertTrue(client.deleteTopic(DeleteTopicRequest.newBuilder().setTopic("old").build()).getDeleted());
        awaitPublishing(client);

        // Without the reserve, messages fill only the room freed inside the database, however fast
        // they come: a batch that grew the file would take the disk's last bytes, and then no
        // deletion could commit any more.
        var batch = BatchPublishRequest.newBuilder().setTopic("orders");
        for (int i = 0; i < 20; i++) {
            batch.addMessages(BatchMessage.newBuilder().setPayload(KB20));
        }
        int batches = 0;
        try {
            while (batches < 100) {
                client.withDeadlineAfter(20, TimeUnit.SECONDS).batchPublish(batch.build());
                batches++;
            }
        } catch (StatusRuntimeException e) {
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        }
        assertTrue(batches < 100, "the freed room was filled by " + batches + " batches of 400 KB");
        long left = Files.getFileStore(mount).getUsableSpace();
        assertTrue(left > 1 << 20, "the messages took the disk's last bytes: " + left + " left");
        assertTrue(client.deleteTopic(DeleteTopicRequest.newBuilder().setTopic("older").build()).getDeleted());
        awaitPublishing(client);
    }

    private static void awaitPublishing(SluiceGrpc.SluiceBlockingStub client) throws InterruptedException {
        Await.until("publishing resumes by itself once DeleteTopic freed room", () -> {
            try {
                publish(client, "orders");
                return true;
            } catch (StatusRuntimeException e) {
                return false;
            }
        });
    }

    private static void publish(SluiceGrpc.SluiceBlockingStub client, String topic) {
        client.withDeadlineAfter(20, TimeUnit.SECONDS)
                .publish(PublishRequest.newBuilder().setTopic(topic).setPayload(KB20).build());
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }
}
