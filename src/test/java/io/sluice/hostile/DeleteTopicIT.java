package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Figures;
import io.sluice.PublishLoad;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.SluiceGrpc;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Case 9, an operator's DeleteTopic while publishers to other topics run (2 / soak 4 single and one
 * batch publisher): after a restart, nothing they were acknowledged is lost (the deleted topic's
 * messages are gone on purpose).
 */
class DeleteTopicIT extends HostileCase {
    static final String DOOMED = "hostile.doomed";

    @Test
    void deletingATopicUnderLoadLosesNothingAcknowledgedOnOtherTopicsAcrossARestart() throws Exception {
        HostileBroker b = start();
        b.startBackground();
        PublishLoad.TOPICS.forEach(b::ledgerTopic);
        int deletes = Figures.scaled(10, 300);
        int perRound = Figures.scaled(5, 20);
        var admin = SluiceGrpc.newBlockingStub(b.channel);
        int acked;
        long started = System.nanoTime();
        try (var load = new PublishLoad(b.process.port(), 0, Figures.scaled(2, 4), 1, b.ledger, Set.of())) {
            load.awaitAcks(200);
            for (int round = 0; round < deletes; round++) {
                for (int i = 0; i < perRound; i++) {
                    b.publish(b.channel, DOOMED, "doomed-" + round + "-" + i, 0);
                }
                boolean deleted = admin.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .deleteTopic(DeleteTopicRequest.newBuilder().setTopic(DOOMED).build()).getDeleted();
                b.expect("DeleteTopic answers deleted", () -> assertTrue(deleted, "deleted " + DOOMED));
                b.ledger.forget(key -> key.startsWith("doomed-"));   // gone on purpose
            }
            b.forgetTopic(DOOMED);
            load.stopAndAwait();
            acked = load.acked();
            var unexpected = load.unexpected();
            b.expect("the publishers saw no failure", () -> assertTrue(unexpected.isEmpty(), unexpected.toString()));
        }
        long loaded = System.nanoTime();
        HostileBroker after = restart();
        long restarted = System.nanoTime();
        System.out.printf("DeleteTopicIT: %d deletes under load in %d ms, SIGTERM and restart in %d ms%n", deletes,
                (loaded - started) / 1_000_000, (restarted - loaded) / 1_000_000);
        after.finish("9 DeleteTopic under load, restart", deletes, deletes + " deletes while " + acked
                + " publishes were acknowledged on other topics");
    }
}
