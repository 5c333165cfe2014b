package io.sluice.store.sqlite;

import com.google.protobuf.UnsafeByteOperations;
import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.DeadLetterWarnings;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import java.io.IOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Moves a message to its group's dead-letter topic inside the writer's transaction that settles it:
 * same payload, the original attributes plus the {@code sluice.dlq.*} ones. A message no longer
 * stored (its topic was emptied meanwhile) is only settled. The move is never refused for the
 * dead-letter topic's limits (see {@link Append#deadLetter}): one that takes a DISCARD_NEW topic over
 * them is logged as a warning, rate-limited. Writer thread only.
 */
final class DeadLetters {
    static final String TOPIC = "sluice.dlq.topic";
    static final String SEQUENCE = "sluice.dlq.sequence";
    static final String MESSAGE_ID = "sluice.dlq.message_id";
    static final String GROUP = "sluice.dlq.group";
    static final String REASON = "sluice.dlq.reason";
    static final String DELIVERY_COUNT = "sluice.dlq.delivery_count";
    static final String DETAIL = "sluice.dlq.detail";
    static final String MAX_DELIVERIES = "max_deliveries";
    static final String REJECTED = "rejected";

    /** One per process, like the logger: the warning is about the broker's topics, whichever store writes it. */

    private static final Completion<List<io.sluice.store.Appended>> NO_ONE = new Completion<>() {
        @Override
        public void committed(List<io.sluice.store.Appended> result) {
        }

        @Override
        public void failed(SluiceException error) {
        }
    };

    private DeadLetters() {
    }

    /**
     * Counts the message as dead-lettered and, when the group has a dead-letter topic, appends it
     * there in this transaction.
     */
    static void move(WriteTx tx, GroupTable.Group g, long seq, int deliveries, String reason, String detail)
            throws SQLException {
        g.deadLettered++;
        tx.groups.touch(g);
        if (!g.config.hasDeadLetterTopic()) {
            return;
        }
        var read = tx.groups.messageAt;
        read.setLong(1, seq);
        read.setLong(2, g.topic.id);
        byte[] mid;
        byte[] payload;
        byte[] attrs;
        try (ResultSet rs = read.executeQuery()) {
            if (!rs.next()) {
                return;
            }
            mid = rs.getBytes(1);
            payload = rs.getBytes(3);
            attrs = rs.getBytes(4);
        }
        var attributes = new LinkedHashMap<String, String>();
        try {
            attributes.putAll(Attributes.decode(attrs == null ? new byte[0] : attrs));
        } catch (IOException e) {
            throw new SluiceException.Corrupted("message " + seq + " in topic " + g.topic.name
                    + " is damaged: its attributes cannot be decoded; it cannot be dead-lettered");
        }
        attributes.put(TOPIC, g.topic.name);
        attributes.put(SEQUENCE, Long.toString(seq));
        attributes.put(MESSAGE_ID, MessageIds.fromBytes(mid).toString());
        attributes.put(GROUP, g.name);
        attributes.put(REASON, reason);
        attributes.put(DELIVERY_COUNT, Integer.toString(deliveries));
        attributes.put(DETAIL, detail == null ? "" : detail);
        var message = new NewMessage(UnsafeByteOperations.unsafeWrap(payload == null ? new byte[0] : payload),
                attributes);
        var append = Append.deadLetter(g.config.deadLetterTopic(), message, NO_ONE);
        append.apply(tx);
        if (append.overLimit != null) {
            DeadLetterWarnings.overLimit(g.config.deadLetterTopic(), g.topic.name, g.name, append.overLimit);
        }
    }
}
