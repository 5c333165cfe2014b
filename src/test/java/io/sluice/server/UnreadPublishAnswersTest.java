package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.sluice.Await;
import io.sluice.client.SluiceClient;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.SluiceGrpc;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A PublishStream client that sends as fast as flow control lets it and never reads an answer: the
 * broker stops reading that stream once its answers wait (rather than keep every answer in memory
 * until it runs out), resets the stream once they have waited on a window that never moves, and
 * serves everyone else meanwhile.
 */
class UnreadPublishAnswersTest {
    @TempDir
    Path dir;

    @Test
    void aStreamWhoseAnswersAreNeverReadIsBoundedAndResetWhileOthersAreServed() throws Exception {
        try (var broker = TestBroker.start(dir.resolve("data"));
             var client = SluiceClient.connect("127.0.0.1:" + broker.port())) {
            neverRead(broker, client);
        }
    }

    private static void neverRead(TestBroker broker, SluiceClient client) throws Exception {
        client.publish("others", new byte[] {0});
        MemoryBudget budget = broker.server().budget();
        long idle = budget.used();   // the room the client's own publish stream keeps for its next request
        ClientCall<PublishStreamRequest, PublishStreamResponse> call =
                broker.channel().newCall(SluiceGrpc.getPublishStreamMethod(), CallOptions.DEFAULT);
        var closed = new CompletableFuture<Status>();
        var ready = new Semaphore(0);
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onReady() {
                ready.release();
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
                ready.release();
            }
        }, new Metadata());
        // call.request() is not called: not one answer is read. Sends until flow control stops them for 2 s.
        var payload = ByteString.copyFromUtf8("a");
        long sent = 0;
        while (!closed.isDone()) {
            if (call.isReady()) {
                call.sendMessage(PublishStreamRequest.newBuilder().setRequestId(++sent).setTopic("unread")
                        .setPayload(payload).build());
            } else if (!ready.tryAcquire(2, TimeUnit.SECONDS) && !call.isReady()) {
                break;
            }
        }
        assertTrue(budget.used() > idle, "the unread answers hold their requests' room");
        long stored = client.stats("unread").getFirst().totalMessages();
        // The answers that fit the client's window and the transport's buffer, then at most the stream's
        // window of requests: the reading stopped (without it, hundreds of thousands until memory ran out).
        assertTrue(stored < 60_000, stored + " of " + sent + " requests were read and stored");
        assertTrue(client.publish("others", new byte[] {1}).sequence() > 0, "others are served meanwhile");

        Await.until("the stuck stream is reset and gives its room back", () -> budget.used() == idle,
                () -> budget.used() + " bytes held");
        call.request(Integer.MAX_VALUE);   // its answers, then its end
        Status status = closed.get(30, TimeUnit.SECONDS);
        assertEquals(Status.Code.CANCELLED, status.getCode(), "reset: " + status);
        assertTrue(client.publish("others", new byte[] {2}).sequence() > 0);
    }
}
