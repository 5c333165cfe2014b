package io.sluice.delivery;

import io.sluice.telemetry.LogBurst;
import java.lang.System.Logger.Level;

/**
 * One kind of warning a client can provoke at will (an ack for an unknown id, a nack beyond the
 * window), logged across the whole broker as {@link LogBurst} allows; the count of the rest is logged
 * as a summary with the first warning of a later window.
 */
final class Warnings {
    private final System.Logger log;
    private final String kind;
    private final LogBurst burst = new LogBurst();

    Warnings(System.Logger log, String kind) {
        this.log = log;
        this.kind = kind;
    }

    /** Logs {@code message} unless this window's lines are spent; then only counts it. */
    void warn(String message) {
        long skipped = burst.admit();
        if (skipped < 0) {
            return;
        }
        if (skipped > 0) {
            log.log(Level.WARNING, LogBurst.summary(skipped, "warnings of " + kind));
        }
        log.log(Level.WARNING, message);
    }
}
