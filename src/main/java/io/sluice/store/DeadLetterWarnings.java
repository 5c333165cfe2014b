package io.sluice.store;

import io.sluice.domain.SluiceException;
import io.sluice.telemetry.LogBurst;

/**
 * The warning both backends give when a dead letter is stored in a topic over its limits (where a
 * publish is refused), at most {@link LogBurst#BURST} times a window: a group whose messages keep
 * failing cannot flood the log.
 */
public final class DeadLetterWarnings {
    private static final System.Logger LOG = System.getLogger(DeadLetterWarnings.class.getName());
    private static final LogBurst OVER_LIMIT = new LogBurst();

    private DeadLetterWarnings() {
    }

    /** A dead letter of {@code topic}'s {@code group} was stored in {@code deadLetterTopic} over {@code limit}. */
    public static void overLimit(String deadLetterTopic, String topic, String group, SluiceException limit) {
        long skipped = OVER_LIMIT.admit();
        if (skipped < 0) {
            return;
        }
        if (skipped > 0) {
            LOG.log(System.Logger.Level.WARNING, LogBurst.summary(skipped, "dead letters stored over a limit"));
        }
        LOG.log(System.Logger.Level.WARNING, "a dead letter of topic " + topic + ", group " + group
                + " was stored in " + deadLetterTopic + " over its limits, where a publish is refused: "
                + limit.getMessage() + "; dead letters are stored whatever the limits of their topic");
    }
}
