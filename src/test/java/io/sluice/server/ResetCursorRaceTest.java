package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.Cursors;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.ResetCursorResponse;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ack the live stream handles while an operator's cursor reset is being committed would be
 * committed after the reset and move the stored cursor past it (the stream learns of the reset only
 * once it is stored): such acks are ignored, and a reopened stream starts right after the reset.
 */
class ResetCursorRaceTest {
    @TempDir
    Path dir;

    @Test
    void anAckHandledWhileAResetIsCommittedDoesNotMoveTheStoredCursorPastIt() throws Exception {
        var holding = new AtomicBoolean();
        var committing = new CountDownLatch(1);
        var release = new CountDownLatch(1);
        try (var broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withBeforeCommit(w -> {
            if (holding.compareAndSet(true, false)) {   // the reset's commit: held until the ack was handled
                committing.countDown();
                release.await(20, TimeUnit.SECONDS);
            }
        })))) {
            long first = 0;
            for (int i = 0; i < 5; i++) {
                long seq = broker.blocking().publish(PublishRequest.newBuilder().setTopic("rr")
                        .setPayload(ByteString.copyFromUtf8("m" + i)).build()).getSequence();
                first = i == 0 ? seq : first;
            }
            String last;
            try (var s = StreamClient.group(broker.async(), "rr", "g", InitialPosition.EARLIEST)) {
                s.credit(5);
                String id = null;
                for (int i = 0; i < 5; i++) {
                    id = s.delivery().getMessageId();
                }
                last = id;
                holding.set(true);
                var reset = io.sluice.proto.SluiceGrpc.newFutureStub(broker.channel()).resetCursor(
                        ResetCursorRequest.newBuilder().setTopic("rr").setConsumerGroup("g").setSequence(first).build());
                assertTrue(committing.await(20, TimeUnit.SECONDS), "the reset is being committed");
                s.ack(last);   // sent before the client heard of the reset
                s.sync(1);     // handled after the ack: queued to the writer behind the reset
                Await.until("the stream handled the ack", () -> broker.server().store().pendingWrites() > 0);
                release.countDown();
                ResetCursorResponse answer = reset.get(20, TimeUnit.SECONDS);
                assertTrue(answer.getUpdated());
                s.credit(1);
                assertEquals(first + 1, s.delivery().getSequence(), "the replay starts after the reset");
            }
            Cursors.awaitExactly(broker.blocking(), "rr", "g", first);
            try (var again = StreamClient.group(broker.async(), "rr", "g", InitialPosition.EARLIEST)) {
                again.credit(1);
                assertEquals(first + 1, again.delivery().getSequence(), "a new stream starts after the reset");
            }
        }
    }

    @Test
    void aStreamGivenCreditWhileAResetIsCommittedCountsItsReplayFromOne() throws Exception {
        var holding = new AtomicBoolean();
        var committing = new CountDownLatch(1);
        var release = new CountDownLatch(1);
        try (var broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withBeforeCommit(w -> {
            if (holding.compareAndSet(true, false)) {
                committing.countDown();
                release.await(20, TimeUnit.SECONDS);
            }
        })))) {
            long first = 0;
            for (int i = 0; i < 10; i++) {
                long seq = broker.blocking().publish(PublishRequest.newBuilder().setTopic("rc")
                        .setPayload(ByteString.copyFromUtf8("m" + i)).build()).getSequence();
                first = i == 0 ? seq : first;
            }
            try (var s = StreamClient.group(broker.async(), "rc", "g", InitialPosition.EARLIEST)) {
                s.credit(5);
                for (int i = 0; i < 5; i++) {
                    s.delivery();
                }
                holding.set(true);
                var reset = io.sluice.proto.SluiceGrpc.newFutureStub(broker.channel()).resetCursor(
                        ResetCursorRequest.newBuilder().setTopic("rc").setConsumerGroup("g").setSequence(first).build());
                assertTrue(committing.await(20, TimeUnit.SECONDS), "the reset is being committed");
                s.credit(9);   // the stream could read on now; what it counted would be counted again in the replay
                s.sync(1);     // the credit was handled
                Await.until("the stream handled the credit", () -> broker.server().store().pendingWrites() > 0);
                release.countDown();
                assertTrue(reset.get(20, TimeUnit.SECONDS).getUpdated());
                for (int i = 1; i < 10; i++) {
                    var d = s.delivery();
                    assertEquals(first + i, d.getSequence());
                    assertEquals(1, d.getDeliveryCount(), "a reset is a replay: message " + d.getSequence());
                }
            }
        }
    }
}
