package io.sluice.server;

import io.sluice.domain.SluiceException;
import io.sluice.proto.InitialPosition;
import io.sluice.store.StartPosition;
import java.util.function.ToLongFunction;

/**
 * Where a new group starts, as the wire says it (a Subscribe stream's init, ConfigureConsumerGroup),
 * checked: an unknown position, or a start offset past the topic's end, is INVALID_ARGUMENT.
 */
final class StartPositions {
    private StartPositions() {
    }

    /**
     * The start position asked for in {@code topic}; {@code lastSequence} gives the topic's last
     * sequence, asked only for an OFFSET, which may be at most one past it (as ResetCursor refuses a
     * cursor past the end: a group placed beyond it would silently skip what comes next).
     */
    static StartPosition fromWire(InitialPosition position, int positionValue, long offset, long startTimestampMs,
                                  String topic, ToLongFunction<String> lastSequence) {
        return switch (position) {
            case LATEST -> StartPosition.latest();
            case EARLIEST -> StartPosition.earliest();
            case OFFSET -> {
                long last = lastSequence.applyAsLong(topic);
                if (offset < 0 || offset > last + 1) {   // unsigned: past 2^63 it reads negative
                    throw new SluiceException.InvalidArgument("offset " + Long.toUnsignedString(offset)
                            + " is beyond the end of topic " + topic + " (its last sequence is " + last
                            + "; the largest start offset is " + (last + 1) + ")");
                }
                yield StartPosition.at(offset);
            }
            case TIMESTAMP -> StartPosition.atTime(startTimestampMs);
            case UNRECOGNIZED -> throw new SluiceException.InvalidArgument("initial_position " + positionValue
                    + " is not LATEST (0), EARLIEST (1), OFFSET (2) or TIMESTAMP (20)");
        };
    }
}
