package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.Cursors;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.ResetCursorResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a live exclusive stream does while an operator's cursor reset is being committed (the stream
 * learns of it only once it is stored; the broker's writer holds the reset's commit here): an ack it
 * handles then would be committed after the reset and move the stored cursor past it, and a read then
 * would count deliveries the reset has just cleared. Neither happens.
 */
class ResetCursorRaceTest {
    @TempDir
    Path dir;

    private final AtomicBoolean holdNext = new AtomicBoolean();
    private final CountDownLatch committing = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private TestBroker broker;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withBeforeCommit(w -> {
            if (holdNext.compareAndSet(true, false)) {   // the reset's commit: held until the test lets it go
                committing.countDown();
                release.await(20, TimeUnit.SECONDS);
            }
        })));
    }

    @AfterEach
    void stop() throws InterruptedException {
        release.countDown();
        broker.close();
    }

    @Test
    void anAckHandledWhileAResetIsCommittedDoesNotMoveTheStoredCursorPastIt() throws Exception {
        long first = publish("rr", 5);
        try (var s = StreamClient.group(broker.async(), "rr", "g", InitialPosition.EARLIEST)) {
            s.credit(5);
            String last = null;
            for (int i = 0; i < 5; i++) {
                last = s.delivery().getMessageId();
            }
            var reset = resetWhileHeld("rr", first);
            s.ack(last);   // sent before the client heard of the reset
            afterHandled(s);
            assertTrue(reset.get(20, TimeUnit.SECONDS).getUpdated());
            s.credit(1);
            assertEquals(first + 1, s.delivery().getSequence(), "the replay starts after the reset");
        }
        Cursors.awaitExactly(broker.blocking(), "rr", "g", first);
        try (var again = StreamClient.group(broker.async(), "rr", "g", InitialPosition.EARLIEST)) {
            again.credit(1);
            assertEquals(first + 1, again.delivery().getSequence(), "a new stream starts after the reset");
        }
    }

    @Test
    void aStreamGivenCreditWhileAResetIsCommittedCountsItsReplayFromOne() throws Exception {
        long first = publish("rc", 10);
        try (var s = StreamClient.group(broker.async(), "rc", "g", InitialPosition.EARLIEST)) {
            s.credit(5);
            for (int i = 0; i < 5; i++) {
                s.delivery();
            }
            var reset = resetWhileHeld("rc", first);
            s.credit(9);   // the stream could read on now; what it counted would be counted again in the replay
            afterHandled(s);
            assertTrue(reset.get(20, TimeUnit.SECONDS).getUpdated());
            for (int i = 1; i < 10; i++) {
                var d = s.delivery();
                assertEquals(first + i, d.getSequence());
                assertEquals(1, d.getDeliveryCount(), "a reset is a replay: message " + d.getSequence());
            }
        }
    }

    @Test
    void aTermOfADeliveryMadeBeforeTheResetDoesNotTakeAMessageFromTheReplay() throws Exception {
        long first = publish("rt", 5);
        try (var s = StreamClient.group(broker.async(), "rt", "g", InitialPosition.EARLIEST)) {
            s.credit(5);
            var before = new java.util.ArrayList<String>();
            for (int i = 0; i < 5; i++) {
                before.add(s.delivery().getMessageId());
            }
            broker.blocking().resetCursor(ResetCursorRequest.newBuilder().setTopic("rt").setConsumerGroup("g")
                    .setSequence(first).build());
            s.credit(1);
            assertEquals(first + 1, s.delivery().getSequence(), "the replay begins");
            s.term(before.get(3), "sent before the client heard of the reset");
            s.credit(3);
            for (int i = 2; i < 5; i++) {
                assertEquals(first + i, s.delivery().getSequence(), "the replay skips nothing");
            }
        }
    }

    /** Publishes {@code n} messages to {@code topic}; answers the first one's sequence. */
    private long publish(String topic, int n) {
        long first = 0;
        for (int i = 0; i < n; i++) {
            long seq = broker.blocking().publish(PublishRequest.newBuilder().setTopic(topic)
                    .setPayload(ByteString.copyFromUtf8("m" + i)).build()).getSequence();
            first = i == 0 ? seq : first;
        }
        return first;
    }

    /** Resets group g of {@code topic} to {@code cursor}; returns once its commit is being held. */
    private ListenableFuture<ResetCursorResponse> resetWhileHeld(String topic, long cursor)
            throws InterruptedException {
        holdNext.set(true);
        var reset = SluiceGrpc.newFutureStub(broker.channel()).resetCursor(ResetCursorRequest.newBuilder()
                .setTopic(topic).setConsumerGroup("g").setSequence(cursor).build());
        assertTrue(committing.await(20, TimeUnit.SECONDS), "the reset is being committed");
        return reset;
    }

    /** Lets the held commit go once the stream has handled what the client sent before (an AckSync after it). */
    private void afterHandled(StreamClient s) {
        s.sync(1);   // handled after what was sent before it: queued to the writer behind the reset
        Await.until("the stream handled what was sent", () -> broker.server().store().pendingWrites() > 0);
        release.countDown();
    }
}
