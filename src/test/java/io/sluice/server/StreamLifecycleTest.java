package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Streams that come and go abruptly leave nothing behind. */
class StreamLifecycleTest {
    @TempDir
    Path dir;

    private TestBroker broker;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    private static int subscriptionThreads() {
        // Virtual threads are not listed by the thread MXBean; count the platform ones and the
        // broker's own record of open streams.
        return ManagementFactory.getThreadMXBean().getThreadCount();
    }

    @Test
    void fiveHundredCancelledStreamsLeaveNoSubscriptionsBehind() throws InterruptedException {
        var client = broker.blocking();
        client.publish(PublishRequest.newBuilder().setTopic("churn").setPayload(ByteString.copyFromUtf8("x")).build());
        var stub = broker.async();
        openAndCancel(stub, 50);   // warms the pools (event loops, carriers) that legitimately start threads
        int platformBefore = subscriptionThreads();
        openAndCancel(stub, 500);
        int platformAfter = subscriptionThreads();
        System.out.printf("500 streams: platform threads before %d, after %d; active streams %d%n",
                platformBefore, platformAfter, broker.activeStreams());
        // Pools may add a carrier or an event-loop thread; a leak would add hundreds.
        assertTrue(platformAfter <= platformBefore + 8, "platform threads grew from " + platformBefore
                + " to " + platformAfter + ": " + Thread.getAllStackTraces().keySet().stream()
                .map(Thread::getName).sorted().toList());
    }

    private void openAndCancel(io.sluice.proto.SluiceGrpc.SluiceStub stub, int count) throws InterruptedException {
        var streams = new ArrayList<StreamClient>();
        for (int i = 0; i < count; i++) {
            var s = i % 2 == 0
                    ? StreamClient.group(stub, "churn", "g" + i, InitialPosition.EARLIEST)
                    : StreamClient.browse(stub, "churn", InitialPosition.EARLIEST, 0);
            s.credit(10);
            streams.add(s);
        }
        // Every stream is live: each delivers the message (browse and group alike).
        for (StreamClient s : streams) {
            assertEquals(1, s.delivery().getSequence());
        }
        assertEquals(count, broker.activeStreams());
        for (StreamClient s : streams) {
            s.cancel();
        }
        awaitActiveStreams(0);
    }

    @Test
    void takeoverPingPongEndsWithOneActiveStream() throws InterruptedException {
        broker.blocking().publish(PublishRequest.newBuilder().setTopic("pingpong")
                .setPayload(ByteString.copyFromUtf8("x")).build());
        var stub = broker.async();
        List<StreamClient> opened = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            var s = StreamClient.group(stub, "pingpong", "g", InitialPosition.EARLIEST);
            s.credit(1);
            // Established once it delivers (again: nobody acks), so the next stream comes after it.
            assertEquals(i + 1, s.delivery().getDeliveryCount());
            opened.add(s);
            if (i > 0) {
                assertEquals("TAKEN_OVER", opened.get(i - 1).streamError());
            }
        }
        awaitActiveStreams(1);
        opened.getLast().cancel();
        awaitActiveStreams(0);
    }

    private void awaitActiveStreams(int expected) {
        broker.awaitStreams(expected);
    }
}
