package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.sluice.Await;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Subscribe streams whose clients read nothing, ended by the broker while other streams wait for delivery
 * memory: their status cannot reach a client that reads nothing, so their streams are reset, and the memory
 * their messages held in the transport comes back while those clients are still connected.
 */
class SilentStreamResetTest {
    private static final int MESSAGE = 256 << 10;

    @TempDir
    Path dir;

    @Test
    void endedStreamsOfClientsThatReadNothingAreResetAndGiveTheirMemoryBack() throws Exception {
        try (var broker = TestBroker.start(dir, c -> c.withHeartbeat(Duration.ofMillis(200))
                .withMaxQueuedBytes(4L << 20))) {
            publishBacklog(broker);
            List<ClientCall<SubscribeUpstream, SubscribeDownstream>> calls = new ArrayList<>();
            for (int i = 0; i < 16; i++) {   // each holds about one message's room: more than the budget has
                calls.add(silent(broker));
            }
            var held = broker.server().delivery();
            Await.until("the silent streams hold delivery memory", () -> held.heldBytes() > 0);
            // Each is ended once it has read nothing for three heartbeats while others wait for room (until the
            // rest fit: nothing waits then); what it sent stays counted while the transport holds it.
            Await.until("ended streams hold what they sent", () -> held.heldByEndedStreams() > 0);
            // Its stream is reset once its status has waited behind the unread messages for the grace period:
            // what the transport held of it comes back, while its client is still connected.
            Await.until("the memory of the ended streams comes back while their clients are still connected",
                    Duration.ofMillis(100), () -> held.activeStreams() < calls.size() && held.heldByEndedStreams() == 0,
                    () -> held.heldByEndedStreams() + " bytes held by ended streams, " + held.activeStreams()
                            + " streams open");
            assertTrue(broker.blocking().publish(io.sluice.proto.PublishRequest.newBuilder().setTopic("silent")
                    .setPayload(ByteString.copyFromUtf8("after")).build()).getSequence() > 0);
            calls.forEach(c -> c.cancel("done", null));
        }
    }

    /**
     * A stream holds about one message's room until its client has shown that it reads: many silent
     * streams leave room in the budget, and a subscriber that reads is served at once, not after the
     * silent ones were ended (three heartbeats, 30 s here).
     */
    @Test
    void aSubscriberThatReadsIsServedAtOnceBesideManyThatReadNothing() throws Exception {
        try (var broker = TestBroker.start(dir, c -> c.withMaxQueuedBytes(8L << 20)
                .withHeartbeat(Duration.ofSeconds(10)))) {
            publishBacklog(broker);
            List<ClientCall<SubscribeUpstream, SubscribeDownstream>> calls = new ArrayList<>();
            for (int i = 0; i < 20; i++) {   // two batches' room each would be 40 MiB: five times the budget
                calls.add(silent(broker));
            }
            var held = broker.server().delivery();
            Await.until("the silent streams hold delivery memory", () -> held.heldBytes() >= 20L * MESSAGE);
            try (var reader = StreamClient.browse(broker.async(), "silent", InitialPosition.EARLIEST, 0)) {
                reader.credit(1);
                assertEquals(1, reader.delivery().getSequence());
            }
            calls.forEach(c -> c.cancel("done", null));
        }
    }

    private static void publishBacklog(TestBroker broker) {
        for (int i = 0; i < 4; i++) {
            var batch = BatchPublishRequest.newBuilder().setTopic("silent");
            for (int k = 0; k < 8; k++) {
                batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFrom(new byte[MESSAGE])));
            }
            broker.blocking().batchPublish(batch.build());
        }
    }

    /** A BROWSE stream from the start with unlimited credit whose client never reads. */
    private static ClientCall<SubscribeUpstream, SubscribeDownstream> silent(TestBroker broker) {
        ClientCall<SubscribeUpstream, SubscribeDownstream> call = broker.channel().newCall(
                SluiceGrpc.getSubscribeMethod(), CallOptions.DEFAULT);
        call.start(new ClientCall.Listener<>() {
        }, new Metadata());   // never call.request(): nothing is read
        call.sendMessage(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("silent")
                .setMode(SubscriptionMode.BROWSE).setInitialPosition(InitialPosition.EARLIEST)).build());
        call.sendMessage(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(-1)).build());
        return call;
    }
}
