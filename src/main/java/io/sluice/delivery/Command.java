package io.sluice.delivery;

import java.util.List;

/**
 * What a consumer tells its subscription after init, parsed from the transport by the server:
 * credit grants, acknowledgements, negative acknowledgements, (shared groups) lease extensions
 * and terminations, and requests to be told when those are applied.
 */
public sealed interface Command {

    /** {@code credits} more messages may be sent (unsigned 32-bit, as on the wire). */
    record Grant(int credits) implements Command {
    }

    /**
     * The messages with these ids are processed: an exclusive group's cursor moves to the highest of
     * them; in a shared group exactly these are settled.
     */
    record Ack(List<String> messageIds) implements Command {
    }

    /** The message with this id is to be delivered again after {@code delayMs} (unsigned 32-bit). */
    record Nack(String messageId, int delayMs) implements Command {
    }

    /** Shared groups: the consumer still works on the message; its lease starts again. */
    record InProgress(String messageId) implements Command {
    }

    /** The message is not to be delivered again: dead-lettered when the group has a dead-letter topic. */
    record Term(String messageId, String reason) implements Command {
    }

    /** Answer with {@code id} once the settles received before this are applied (unsigned 64-bit). */
    record Sync(long id) implements Command {
    }
}
