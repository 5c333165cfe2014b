package io.sluice.store.postgres;

import io.sluice.store.Completion;
import com.google.protobuf.UnsafeByteOperations;
import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.DeadLetterWarnings;
import io.sluice.store.GroupConfig;
import io.sluice.store.NewMessage;
import java.io.IOException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;

/**
 * Moves a message to its group's dead-letter topic inside the writer's transaction that settles it
 * (SPEC §7): the same payload, the original attributes plus {@code sluice.dlq.topic}, {@code
 * .sequence}, {@code .message_id}, {@code .group}, {@code .reason}, {@code .delivery_count} and
 * {@code .detail}. The group counts it as dead-lettered either way; a message no longer stored (removed
 * by retention meanwhile) is only counted. The move is never refused for the dead-letter topic's limits
 * (see {@link PgWriteOp.Append#deadLetter}): one that takes a DISCARD_NEW topic over them is logged as a
 * warning, rate-limited. Writer thread only.
 */
final class PgDeadLetters {
    static final String MAX_DELIVERIES = "max_deliveries";
    static final String REJECTED = "rejected";
    /** One per process, like the logger: the warning is about the broker's topics, whichever store writes it. */

    private PgDeadLetters() {
    }

    /** Counts the message dead-lettered by the group and, when it has a dead-letter topic, appends it there. */
    static void move(PgWriteTx tx, PgWriteTx.TopicState topic, String group, GroupConfig config, long seq,
                     int deliveries, String reason, String detail) throws SQLException {
        tx.groups.countDeadLetter(topic.id, group);
        if (!config.hasDeadLetterTopic()) {
            return;
        }
        byte[] mid;
        byte[] payload;
        byte[] attrs;
        PreparedStatement read = tx.messageAt;
        read.setLong(1, topic.id);
        read.setLong(2, seq);
        try (ResultSet rs = read.executeQuery()) {
            if (!rs.next()) {
                return;
            }
            mid = rs.getBytes(1);
            payload = rs.getBytes(2);
            attrs = rs.getBytes(3);
        }
        var attributes = new LinkedHashMap<String, String>();
        try {
            attributes.putAll(Attributes.decode(attrs));
        } catch (IOException e) {
            throw new SluiceException.Corrupted("message " + seq + " in topic " + topic.name
                    + " is damaged: its attributes cannot be decoded; it cannot be dead-lettered");
        }
        attributes.put("sluice.dlq.topic", topic.name);
        attributes.put("sluice.dlq.sequence", Long.toString(seq));
        attributes.put("sluice.dlq.message_id", MessageIds.fromBytes(mid).toString());
        attributes.put("sluice.dlq.group", group);
        attributes.put("sluice.dlq.reason", reason);
        attributes.put("sluice.dlq.delivery_count", Integer.toString(deliveries));
        attributes.put("sluice.dlq.detail", detail == null ? "" : detail);
        var message = new NewMessage(UnsafeByteOperations.unsafeWrap(payload), attributes);
        var append = PgWriteOp.Append.deadLetter(config.deadLetterTopic(), message, Completion.none());
        append.apply(tx);
        if (append.overLimit != null) {
            DeadLetterWarnings.overLimit(config.deadLetterTopic(), topic.name, group, append.overLimit);
        }
    }
}
