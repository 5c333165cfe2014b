package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Figures;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.SluiceGrpc;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Case 2, an answer no client can read: a BatchPublish of 300,000 empty messages (600 KB asked,
 * 13 MB to answer) is refused with INVALID_ARGUMENT naming the count limit (10,000 by default,
 * {@code --max-batch-messages}) and stores nothing; a batch of exactly 10,000 is stored and its
 * answer fits a default client's 4 MiB; the writer keeps working.
 */
class BatchCountIT extends HostileCase {
    static final int HUGE = 300_000;
    static final int LIMIT = 10_000;
    static final String TOPIC = "hostile.batch";

    @Test
    void aBatchOverTheCountLimitIsRefusedNamingItAndOneAtTheLimitIsStored() throws Exception {
        HostileBroker b = start();
        b.startBackground();
        var stub = SluiceGrpc.newBlockingStub(b.defaultChannel());   // a default client: 4 MiB inbound
        int rounds = Figures.scaled(1, 10);
        long tried = 2L * rounds;
        long stored = 0;
        String refusal = "-";
        int answerBytes = 0;
        for (int round = 0; round < rounds; round++) {
            var huge = BatchPublishRequest.newBuilder().setTopic(TOPIC);
            for (int i = 0; i < HUGE; i++) {
                huge.addMessages(BatchMessage.getDefaultInstance());
            }
            long started = System.nanoTime();
            try {
                stub.withDeadlineAfter(60, TimeUnit.SECONDS).batchPublish(huge.build());
                b.failure("a BatchPublish of " + HUGE + " messages was answered OK");
                stored += HUGE;
            } catch (StatusRuntimeException e) {
                Status s = e.getStatus();
                refusal = s.getCode() + ": " + s.getDescription();
                System.out.printf("BatchCountIT: %d empty messages answered in %d ms: %s%n", HUGE,
                        (System.nanoTime() - started) / 1_000_000, s);
                b.expect("300,000 messages: INVALID_ARGUMENT naming the limit of 10,000", () -> {
                    assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode(), s.toString());
                    assertTrue(s.getDescription() != null && s.getDescription().matches("(?s).*\\b10,?000\\b.*"),
                            "names the count limit: " + s);
                });
            }

            var atLimit = BatchPublishRequest.newBuilder().setTopic(TOPIC);
            for (int i = 0; i < LIMIT; i++) {
                atLimit.addMessages(BatchMessage.getDefaultInstance());
            }
            try {
                BatchPublishResponse r = stub.withDeadlineAfter(60, TimeUnit.SECONDS).batchPublish(atLimit.build());
                stored += LIMIT;
                answerBytes = r.getSerializedSize();
                b.expect("10,000 messages: one result each, contiguous sequences", () -> {
                    assertEquals(LIMIT, r.getResultsCount());
                    long first = r.getResults(0).getSequence();
                    assertEquals(first + LIMIT - 1, r.getResults(LIMIT - 1).getSequence());
                });
            } catch (StatusRuntimeException e) {
                b.failure("a BatchPublish of exactly " + LIMIT + " messages failed for a default client: "
                        + e.getStatus());
            }
            if (b.failedSoFar()) {
                tried = 2L * (round + 1);   // repeating an attack that already failed adds only waiting
                break;
            }
        }
        long expected = stored;
        var total = new long[] {-1};
        b.expect("the refused batches stored nothing", () -> {
            var stats = SluiceGrpc.newBlockingStub(b.channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(TOPIC).build()).getStatsList();
            total[0] = stats.isEmpty() ? 0 : stats.getFirst().getTotalMessages();
            assertEquals(expected, total[0], "messages in " + TOPIC + " (" + expected + " answered OK)");
        });
        b.finish("2 BatchPublish 300,000 empty", tried, "stored " + total[0] + "; 10,000 answered in "
                + answerBytes + " B; 300,000: " + abbreviate(refusal));
    }

    static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
