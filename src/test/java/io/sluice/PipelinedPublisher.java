package io.sluice;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.SluiceGrpc;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One PublishStream kept open, pipelining up to {@value #WINDOW} requests on its own thread until
 * the stream ends; never half-closes. Each answer with error code 0 goes into the ledger.
 */
public final class PipelinedPublisher implements AutoCloseable {
    static final int WINDOW = 64;

    private final Semaphore window = new Semaphore(WINDOW);
    private final ConcurrentHashMap<Long, String> keys = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, ByteString> payloads = new ConcurrentHashMap<>();
    private final AtomicInteger answered = new AtomicInteger();
    private final AtomicInteger refused = new AtomicInteger();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final Thread thread;
    private volatile Status status;
    private volatile ClientCallStreamObserver<PublishStreamRequest> requests;

    public PipelinedPublisher(Channel channel, String topic, String prefix, Ledger ledger) {
        SluiceGrpc.newStub(channel).publishStream(new ClientResponseObserver<PublishStreamRequest,
                PublishStreamResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> r) {
                requests = r;
            }

            @Override
            public void onNext(PublishStreamResponse r) {
                String key = keys.remove(r.getRequestId());
                ByteString payload = payloads.remove(r.getRequestId());
                if (r.getErrorCode() == 0) {
                    ledger.ack(new Ledger.Acked(key, topic, r.getMessageId(), r.getSequence(), payload));
                    answered.incrementAndGet();
                } else {
                    refused.incrementAndGet();
                }
                window.release();
            }

            @Override
            public void onError(Throwable t) {
                end(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                end(Status.OK);
            }
        });
        thread = Thread.ofPlatform().daemon().name("pipelined-" + prefix).start(() -> {
            try {
                for (long id = 0; ended.getCount() > 0; id++) {
                    while (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        if (ended.getCount() == 0) {
                            return;
                        }
                    }
                    String key = prefix + "-" + id;
                    ByteString payload = ledger.attempt(key);
                    keys.put(id, key);
                    payloads.put(id, payload);
                    synchronized (this) {
                        if (ended.getCount() == 0) {
                            return;
                        }
                        requests.onNext(PublishStreamRequest.newBuilder().setRequestId(id).setTopic(topic)
                                .setPayload(payload).putAttributes("writer", key).build());
                    }
                }
            } catch (InterruptedException | RuntimeException e) {
                // the stream ended while sending
            }
        });
    }

    private void end(Status s) {
        status = s;
        ended.countDown();
    }

    /** Messages answered as stored so far. */
    public int answered() {
        return answered.get();
    }

    /** Requests answered with an error (e.g. UNAVAILABLE while shutting down). */
    public int refused() {
        return refused.get();
    }

    /** Waits until at least {@code n} messages are answered as stored. */
    public void awaitAnswered(int n) throws InterruptedException {
        Await.until(n + " messages answered", () -> {
            assertTrue(answered.get() >= n || ended.getCount() > 0, "the stream ended with " + status + " after "
                    + answered.get() + " answers");
            return answered.get() >= n;
        }, answered::get);
    }

    /** The stream's final status, once the broker ended it. */
    public Status awaitEnd() throws InterruptedException {
        assertTrue(ended.await(60, TimeUnit.SECONDS), "the PublishStream was never ended");
        thread.join(TimeUnit.SECONDS.toMillis(10));
        return status;
    }

    @Override
    public void close() {
        if (ended.getCount() > 0) {
            synchronized (this) {
                requests.cancel("the test is done", null);
            }
        }
    }
}
