package io.sluice.hostile;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.sluice.Figures;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Case 9, subscribers that never read: a hundred streams, each on its own connection, ask for a
 * backlog of 256 KiB messages with unlimited credit and batches, then never read an answer. What they
 * hold is bounded by the broker's delivery budget: no OutOfMemoryError, the broker stays alive,
 * publishes go on meanwhile, and a new subscriber is served while they are still connected: a stream
 * whose client reads nothing for three heartbeat intervals while others wait for room is ended.
 */
class SilentSubscribersIT extends HostileCase {
    static final String TOPIC = "hostile.silent";
    static final int MESSAGE = 256 << 10;

    @Test
    void streamsThatNeverReadHoldAtMostTheDeliveryBudget() throws Exception {
        HostileBroker b = start("--heartbeat", "1s");   // a silent stream holding others back ends after 3 s
        b.startBackground();
        int backlog = Figures.scaled(200, 400);
        int streams = Figures.scaled(120, 300);
        var publish = SluiceGrpc.newBlockingStub(b.channel);
        for (int i = 0; i < backlog; i += 8) {
            var batch = BatchPublishRequest.newBuilder().setTopic(TOPIC);
            for (int k = 0; k < 8; k++) {
                batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFrom(new byte[MESSAGE])));
            }
            publish.withDeadlineAfter(30, TimeUnit.SECONDS).batchPublish(batch.build());
        }
        var calls = new ArrayList<ClientCall<SubscribeUpstream, SubscribeDownstream>>();
        for (int i = 0; i < streams; i++) {
            calls.add(silent(b.defaultChannel()));
        }
        // Publishes go on while the streams read and send what the budget lets them, for a while.
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(Figures.scaled(3, 30));
        int published = 0;
        while (System.nanoTime() < end) {
            int n = published++;
            b.expect("publishes are answered while the streams hold their deliveries", () -> publish
                    .withDeadlineAfter(10, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
                            .setTopic(TOPIC + ".small").setPayload(ByteString.copyFromUtf8("small " + n)).build()));
        }
        b.expect("a subscriber is served while the silent ones are still connected", b::probe);
        for (var call : calls) {
            call.cancel("the silent client leaves", null);
        }
        b.finish("9 silent subscribers", streams, streams + " streams x " + backlog + " x 256 KiB");
    }

    /** A BROWSE stream from the start of the topic, with unlimited credit and batches, that never reads. */
    private static ClientCall<SubscribeUpstream, SubscribeDownstream> silent(ManagedChannel channel) {
        ClientCall<SubscribeUpstream, SubscribeDownstream> call = channel.newCall(SluiceGrpc.getSubscribeMethod(),
                CallOptions.DEFAULT);
        call.start(new ClientCall.Listener<>() {
        }, new Metadata());   // never call.request(): nothing is read
        call.sendMessage(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic(TOPIC)
                .setMode(SubscriptionMode.BROWSE).setInitialPosition(InitialPosition.EARLIEST).setMaxBatch(1000))
                .build());
        call.sendMessage(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(-1)).build());
        return call;
    }
}
