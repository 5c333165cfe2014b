package io.sluice.store.postgres;

import static io.sluice.store.Stored.message;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * Which batches may go as one statement ({@link PgFastAppend.Plain#eligible}): its notification names
 * each topic once, so its length grows with the batch's topics, not with its appends.
 */
class PgFastAppendPlainTest {
    private static final Completion<List<Appended>> IGNORED = new Completion<>() {
        @Override
        public void committed(List<Appended> result) {
        }

        @Override
        public void failed(SluiceException error) {
        }
    };

    private static PgWriteOp<?> append(String topic) {
        return new PgWriteOp.Append(topic, List.of(message("m")), OptionalLong.empty(), IGNORED);
    }

    @Test
    void manySingleMessageAppendsToOneTopicGoAsOneStatement() {
        String topic = "orders.created.by-the-checkout-service";
        var plain = new PgFastAppend.Plain();
        plain.learn(Map.of(topic, true));
        var batch = new ArrayList<PgWriteOp<?>>();
        for (int i = 0; i < 5_000; i++) {   // a PublishStream's batch: an append per message
            batch.add(append(topic));
        }
        List<PgWriteOp.Append> eligible = plain.eligible(batch);
        assertNotNull(eligible, "one topic, named once in the notification");
        assertEquals(5_000, eligible.size());
    }

    @Test
    void aBatchToTooManyTopicsForOneNotificationGoesAsATransaction() {
        var plain = new PgFastAppend.Plain();
        var known = new HashMap<String, Boolean>();
        var batch = new ArrayList<PgWriteOp<?>>();
        for (int i = 0; batch.size() * 40 <= PgNotifications.MAX_PAYLOAD; i++) {
            String topic = "topic-with-a-longish-name-" + i;
            known.put(topic, true);
            batch.add(append(topic));
        }
        plain.learn(known);
        assertNull(plain.eligible(batch), "the notification could be too long");
        assertNotNull(plain.eligible(batch.subList(0, 10)), "ten topics fit");
    }
}
