package io.sluice.delivery;

import java.util.List;

/**
 * What a consumer tells its subscription after init, parsed from the transport by the server:
 * credit grants, acknowledgements and negative acknowledgements.
 */
public sealed interface Command {

    /** {@code credits} more messages may be sent (unsigned 32-bit, as on the wire). */
    record Grant(int credits) implements Command {
    }

    /** The messages with these ids are processed: the group's cursor moves to the highest of them. */
    record Ack(List<String> messageIds) implements Command {
    }

    /** The message with this id is to be delivered again after {@code delayMs} (unsigned 32-bit). */
    record Nack(String messageId, int delayMs) implements Command {
    }
}
