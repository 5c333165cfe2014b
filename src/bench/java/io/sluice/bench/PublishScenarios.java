package io.sluice.bench;

import com.google.protobuf.ByteString;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.PublishRequest;
import java.util.SplittableRandom;

/** Scenarios 1 and 2: closed-loop unary Publish and BatchPublish, each run on a topic of its own. */
final class PublishScenarios {
    static final int[] SIZES = {100, 1024};
    static final int[] PUBLISHERS = {1, 16, 64, 256};
    static final int[] BATCHES = {100, 1000};
    static final int BATCHERS = 4;

    private PublishScenarios() {
    }

    /** Scenario 1: unary Publish of 100 B and 1 KiB with 1, 16, 64 and 256 publishers, one call in flight each. */
    static void unary(Session s) {
        for (int size : SIZES) {
            for (int publishers : PUBLISHERS) {
                var request = PublishRequest.newBuilder()
                        .setTopic(s.topic("s1.publish." + size + "B.c" + publishers))
                        .setPayload(payload(size))
                        .build();
                Measured m = ClosedLoop.run(s, publishers,
                        (w, done) -> s.clients().stub(w).publish(request, new Answer<>(done, 1)));
                s.done(Row.of(1, "Publish " + bytes(size) + ", " + publishers + " publisher"
                        + (publishers == 1 ? "" : "s"), m));
            }
        }
    }

    /** Scenario 2: BatchPublish of 100 and 1,000 messages of 100 B, by 4 batchers with one batch in flight each. */
    static void batch(Session s) {
        for (int count : BATCHES) {
            BatchPublishRequest request = batchRequest(s.topic("s2.batch." + count), count, 100);
            Measured m = ClosedLoop.run(s, BATCHERS,
                    (w, done) -> s.clients().stub(w).batchPublish(request, new Answer<>(done, count)));
            s.done(Row.of(2, "BatchPublish " + count + " x 100 B, " + BATCHERS + " batchers", m));
        }
    }

    static BatchPublishRequest batchRequest(String topic, int count, int size) {
        var message = BatchMessage.newBuilder().setPayload(payload(size)).build();
        var request = BatchPublishRequest.newBuilder().setTopic(topic);
        for (int i = 0; i < count; i++) {
            request.addMessages(message);
        }
        return request.build();
    }

    /** Random bytes, the same for every message of a run (nothing compresses them on the wire anyway). */
    static ByteString payload(int size) {
        byte[] bytes = new byte[size];
        new SplittableRandom(size).nextBytes(bytes);
        return ByteString.copyFrom(bytes);
    }

    static String bytes(int size) {
        return size % 1024 == 0 ? size / 1024 + " KiB" : size + " B";
    }
}
