package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PublishStream: pipelined publishes, each answered after its commit, in request order. */
class PublishStreamTest {
    @TempDir
    Path dir;

    private TestBroker broker;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir, c -> c.withLimits(1024, 64 * 1024));
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    /** A client stream with at most {@code window} requests unanswered. */
    private final class Producer {
        final List<PublishStreamResponse> responses = new ArrayList<>();
        final CountDownLatch done = new CountDownLatch(1);
        final Semaphore window;
        volatile Status status;
        final ClientCallStreamObserver<PublishStreamRequest> requests;

        @SuppressWarnings("unchecked")
        Producer(int window) {
            this.window = new Semaphore(window);
            @SuppressWarnings("rawtypes")   // an array of a generic type can only be raw
            var holder = new ClientCallStreamObserver[1];
            broker.async().publishStream(new ClientResponseObserver<PublishStreamRequest, PublishStreamResponse>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> r) {
                    holder[0] = r;
                }

                @Override
                public void onNext(PublishStreamResponse value) {
                    synchronized (responses) {
                        responses.add(value);
                    }
                    Producer.this.window.release();
                }

                @Override
                public void onError(Throwable t) {
                    status = Status.fromThrowable(t);
                    done.countDown();
                }

                @Override
                public void onCompleted() {
                    status = Status.OK;
                    done.countDown();
                }
            });
            requests = holder[0];
        }

        void send(long id, String topic, String payload) throws InterruptedException {
            assertTrue(window.tryAcquire(StreamClient.WAIT.toMillis(), TimeUnit.MILLISECONDS), "window never opened");
            synchronized (this) {
                requests.onNext(PublishStreamRequest.newBuilder().setRequestId(id).setTopic(topic)
                        .setPayload(ByteString.copyFromUtf8(payload)).putAttributes("id", "" + id).build());
            }
        }

        List<PublishStreamResponse> finish() throws InterruptedException {
            requests.onCompleted();
            assertTrue(done.await(StreamClient.WAIT.toMillis(), TimeUnit.MILLISECONDS), "stream never completed");
            assertEquals(Status.Code.OK, status.getCode(), () -> "stream ended with " + status);
            synchronized (responses) {
                return List.copyOf(responses);
            }
        }
    }

    @Test
    void answersComeInRequestOrderAfterTheirCommit() throws InterruptedException {
        var p = new Producer(1024);
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            p.send(1_000_000L + i, "t" + (i % 3), "m" + i);
        }
        var responses = p.finish();
        assertEquals(n, responses.size());
        long lastSequence = 0;
        for (int i = 0; i < n; i++) {
            var r = responses.get(i);
            assertEquals(1_000_000L + i, r.getRequestId());
            assertEquals(0, r.getErrorCode(), r.getErrorMessage());
            assertTrue(r.getSequence() > lastSequence, "sequences increase in request order");
            lastSequence = r.getSequence();
            assertEquals(7, UUID.fromString(r.getMessageId()).version());
            assertTrue(r.getTimestamp() > 0);
        }
        var stats = broker.blocking().getTopicStats(GetTopicStatsRequest.getDefaultInstance());
        assertEquals(n, stats.getStatsList().stream().mapToLong(s -> s.getTotalMessages()).sum());
    }

    @Test
    void aBadRequestFailsAloneAndInItsPlace() throws InterruptedException {
        var p = new Producer(16);
        p.send(1, "good", "a");
        p.send(2, "bad topic", "b");
        p.send(3, "good", "x".repeat(2000));   // over the 1024-byte limit
        p.send(4, "good", "d");
        p.requests.onNext(PublishStreamRequest.newBuilder().setRequestId(5).setTopic("good")
                .setPayload(ByteString.copyFromUtf8("e")).putAttributes("", "empty key").build());
        p.send(6, "good", "f");
        var responses = p.finish();
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), responses.stream().map(PublishStreamResponse::getRequestId).toList());
        assertEquals(0, responses.get(0).getErrorCode());
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), responses.get(1).getErrorCode());
        assertTrue(responses.get(1).getErrorMessage().contains("topic name"), responses.get(1).getErrorMessage());
        assertEquals(Status.Code.RESOURCE_EXHAUSTED.value(), responses.get(2).getErrorCode());
        assertTrue(responses.get(2).getErrorMessage().contains("1024"), responses.get(2).getErrorMessage());
        assertEquals(0, responses.get(3).getErrorCode());
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), responses.get(4).getErrorCode());
        assertEquals(0, responses.get(5).getErrorCode());
        assertTrue(responses.get(0).getSequence() < responses.get(3).getSequence());
        assertTrue(responses.get(3).getSequence() < responses.get(5).getSequence());
        assertEquals("", responses.get(1).getMessageId());
    }

    @Test
    void answeredMessagesAreDeliveredIntact() throws InterruptedException {
        var p = new Producer(64);
        for (int i = 0; i < 100; i++) {
            p.send(i, "delivered", "payload-" + i);
        }
        var responses = p.finish();
        try (var s = StreamClient.group(broker.async(), "delivered", "g", InitialPosition.EARLIEST)) {
            s.credit(100);
            for (int i = 0; i < 100; i++) {
                var d = s.delivery();
                assertEquals(responses.get(i).getMessageId(), d.getMessageId());
                assertEquals("payload-" + i, d.getPayload().toStringUtf8());
                assertEquals("" + i, d.getAttributesMap().get("id"));
            }
        }
    }

    @Test
    void anEmptyStreamCompletesWhenTheClientDoes() throws InterruptedException {
        assertEquals(List.of(), new Producer(1).finish());
    }
}
