package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.SluiceGrpc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests over the transport's limit (--max-batch-bytes plus 2 MiB: 18 MiB by default) on each kind
 * of call: RESOURCE_EXHAUSTED naming both sizes, a stream's earlier requests stored and answered
 * first, nothing logged as an error, and the broker serving on.
 */
class OversizeRequestTest {
    private static final int OVER = 20 << 20;

    @TempDir
    Path dir;

    private TestBroker broker;
    private LogRecorder logs;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
        logs = LogRecorder.install();
    }

    @AfterEach
    void stop() throws InterruptedException {
        try {
            assertEquals(List.of(), logs.severe());
            assertTrue(broker.blocking().publish(io.sluice.proto.PublishRequest.newBuilder().setTopic("after")
                    .build()).getSequence() > 0, "the broker serves on");
        } finally {
            logs.close();
            broker.close();
        }
    }

    @Test
    void aPublishStreamAnswersWhatItStoredThenEndsResourceExhausted() throws Exception {
        String method = SluiceGrpc.getPublishStreamMethod().getFullMethodName();
        for (int round = 0; round < 3; round++) {   // the same every time: no race with the answers
            String topic = "ps-over-" + round;
            var requests = new ArrayList<byte[]>();
            for (int i = 1; i <= 50; i++) {
                requests.add(new RawGrpc.Proto().varint(1, i).string(2, topic).string(3, "m" + i).build());
            }
            requests.add(new RawGrpc.Proto().varint(1, 51).string(2, topic).bytes(3, new byte[OVER]).build());
            requests.add(new RawGrpc.Proto().varint(1, 52).string(2, topic).string(3, "after").build());
            RawGrpc.Ended end = RawGrpc.bidi(broker.channel(), method, requests);
            assertOver(end.status(), method);
            var ids = new ArrayList<Long>();
            for (byte[] b : end.responses()) {
                var answer = PublishStreamResponse.parseFrom(b);
                assertEquals(0, answer.getErrorCode(), answer.toString());
                ids.add(answer.getRequestId());
            }
            assertEquals(LongStream.rangeClosed(1, 50).boxed().toList(), ids,
                    "every request before the oversize one answered, in order; none after it read");
            assertEquals(50, broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic)
                    .build()).getStats(0).getTotalMessages());
        }
    }

    @Test
    void aUnaryPublishIsResourceExhaustedNamingBothSizes() {
        String method = SluiceGrpc.getPublishMethod().getFullMethodName();
        for (int round = 0; round < 2; round++) {
            byte[] request = new RawGrpc.Proto().string(1, "unary-over").bytes(2, new byte[OVER]).build();
            assertOver(RawGrpc.unary(broker.channel(), method, request), method);
        }
    }

    @Test
    void aSubscribeStreamEndsResourceExhausted() throws Exception {
        String method = SluiceGrpc.getSubscribeMethod().getFullMethodName();
        byte[] init = new RawGrpc.Proto().message(1, new RawGrpc.Proto().string(1, "sub-over")).build();
        byte[] huge = new RawGrpc.Proto().message(1, new RawGrpc.Proto().string(1, "x".repeat(OVER))).build();
        assertOver(RawGrpc.bidi(broker.channel(), method, List.of(init, huge)).status(), method);
    }

    private static void assertOver(Status status, String method) {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), String.valueOf(status));
        assertTrue(status.getDescription().contains(method) && status.getDescription().contains("over the broker's "
                + "limit of 18874368 bytes"), status.getDescription());
    }
}
