package io.sluice;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.SluiceGrpc;
import java.util.concurrent.TimeUnit;

/** A consumer group's persisted cursor as the broker reports it, and waiting for it to move. */
public final class Cursors {
    private Cursors() {
    }

    /** The group's cursor on the topic, or -1 when the group (or the topic) does not exist. */
    public static long of(SluiceGrpc.SluiceBlockingStub stub, String topic, String group) {
        var stats = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                .getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build());
        if (stats.getStatsCount() == 0) {
            return -1;
        }
        return stats.getStats(0).getConsumerGroupsList().stream().filter(g -> g.getGroupName().equals(group))
                .mapToLong(ConsumerGroupStats::getCursorSequence).findFirst().orElse(-1);
    }

    /** Waits until the group's persisted cursor is at least {@code sequence} (acks are committed in groups). */
    public static void await(SluiceGrpc.SluiceBlockingStub stub, String topic, String group, long sequence) {
        Await.until("the cursor of group " + group + " on " + topic + " reaches " + sequence,
                () -> of(stub, topic, group) >= sequence, () -> "(at " + of(stub, topic, group) + ")");
    }

    /** As {@link #await}, then checks it went exactly there and no further. */
    public static void awaitExactly(SluiceGrpc.SluiceBlockingStub stub, String topic, String group, long sequence) {
        await(stub, topic, group, sequence);
        long cursor = of(stub, topic, group);
        assertTrue(cursor == sequence, "the cursor went past " + sequence + ": " + cursor);
    }
}
