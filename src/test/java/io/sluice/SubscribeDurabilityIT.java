package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Subscribe against the built jar as a child process: cursors survive SIGKILL; backlog never grows the heap. */
class SubscribeDurabilityIT {
    @TempDir
    Path dir;

    @RegisterExtension
    final Children children = new Children(() -> dir);

    private static void publishBatches(SluiceGrpc.SluiceBlockingStub stub, String topic, int batches, int size,
                                       int payloadBytes) {
        byte[] filler = new byte[Math.max(0, payloadBytes - 12)];
        int n = 0;
        for (int b = 0; b < batches; b++) {
            var request = BatchPublishRequest.newBuilder().setTopic(topic);
            for (int i = 0; i < size; i++, n++) {
                request.addMessages(BatchMessage.newBuilder().setPayload(
                        ByteString.copyFromUtf8(String.format("%012d", n)).concat(ByteString.copyFrom(filler))));
            }
            stub.withDeadlineAfter(60, TimeUnit.SECONDS).batchPublish(request.build());
        }
    }

    private static long cursorOf(SluiceGrpc.SluiceBlockingStub stub, String topic, String group) {
        return Cursors.of(stub, topic, group);
    }

    @Test
    void aCommittedCursorSurvivesKill() throws Exception {
        Path data = dir.resolve("data");
        var child = children.serve(data);
        var stub = SluiceGrpc.newBlockingStub(children.channel(child));
        publishBatches(stub, "jobs", 1, 100, 32);
        long acked = 0;
        for (int cycle = 1; cycle <= 3; cycle++) {
            var ch = children.channel(child);
            var s = StreamClient.group(SluiceGrpc.newStub(ch), "jobs", "workers", InitialPosition.EARLIEST);
            s.credit(20);
            MessageDelivery first = s.delivery();
            assertEquals(acked + 1, first.getSequence(), "cycle " + cycle + " resumes after the acked message");
            MessageDelivery last = first;
            for (int i = 1; i < 15; i++) {
                last = s.delivery();
            }
            s.ack(last.getMessageId());
            long target = last.getSequence();
            Cursors.await(SluiceGrpc.newBlockingStub(ch), "jobs", "workers", target);
            acked = target;
            child.kill();
            System.out.printf("cycle %d: acked through %d, then SIGKILL%n", cycle, acked);
            child = children.serve(data);
        }
        var ch = children.channel(child);
        var s = StreamClient.group(SluiceGrpc.newStub(ch), "jobs", "workers", InitialPosition.LATEST);
        s.credit(1);
        var next = s.delivery();
        assertEquals(acked + 1, next.getSequence(), "an existing cursor wins over LATEST");
        assertTrue(next.getDeliveryCount() >= 1);
        System.out.printf("after 3 kills the group resumes at %d (delivery_count %d)%n", next.getSequence(),
                next.getDeliveryCount());
        assertEquals(0, child.terminate(Duration.ofSeconds(30)));
    }

    @Test
    void aHalfMillionBacklogDrainsInOrderWithABoundedHeap() throws Exception {
        Path data = dir.resolve("data");
        var child = children.serve(data);
        var ch = children.channel(child);
        int total = 500_000;
        long started = System.nanoTime();
        publishBatches(SluiceGrpc.newBlockingStub(ch), "backlog", total / 1000, 1000, 100);
        double publishSeconds = (System.nanoTime() - started) / 1e9;

        int window = 1000;
        var s = StreamClient.group(SluiceGrpc.newStub(ch), "backlog", "drain", InitialPosition.EARLIEST);
        s.credit(window);
        started = System.nanoTime();
        long expected = 1;
        int sinceGrant = 0;
        long peakRss = 0;
        for (int i = 0; i < total; i++) {
            MessageDelivery d = s.delivery();
            assertEquals(expected, d.getSequence(), "no gap, no duplicate");
            assertEquals(String.format("%012d", i), d.getPayload().substring(0, 12).toStringUtf8());
            expected++;
            if (++sinceGrant == window / 2) {
                s.credit(sinceGrant);
                sinceGrant = 0;
            }
            if (i % 50_000 == 49_999) {
                s.ack(d.getMessageId());
                peakRss = Math.max(peakRss, child.rssKiB());
            }
        }
        double drainSeconds = (System.nanoTime() - started) / 1e9;
        String heap = heapInfo(child);
        System.out.printf("backlog of %d x 100 B: published in %.1f s (%.0f msg/s), drained in %.1f s (%.0f msg/s); "
                        + "broker -Xmx128m RSS peak sampled %d MiB, VmHWM %d MiB%n%s%n",
                total, publishSeconds, total / publishSeconds, drainSeconds, total / drainSeconds,
                peakRss / 1024, child.peakRssKiB() / 1024, heap);
        assertTrue(child.process.isAlive(), "the broker is still running");
        assertFalse(child.stderr().contains("OutOfMemoryError"), child.stderr());
        assertEquals(0, child.terminate(Duration.ofSeconds(30)));
    }

    /** The child's heap after a full GC, as jcmd prints it (a figure for the log, not an assertion). */
    private static String heapInfo(BrokerProcess child) throws IOException, InterruptedException {
        Path jcmd = Path.of(BrokerProcess.JAVA).resolveSibling("jcmd");
        if (!Files.isExecutable(jcmd)) {
            return "(no jcmd next to " + BrokerProcess.JAVA + ")";
        }
        run(jcmd, child, "GC.run");
        return run(jcmd, child, "GC.heap_info");
    }

    private static String run(Path jcmd, BrokerProcess child, String command) throws IOException, InterruptedException {
        var p = new ProcessBuilder(jcmd.toString(), Long.toString(child.pid()), command).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor(30, TimeUnit.SECONDS);
        return out.strip();
    }
}
