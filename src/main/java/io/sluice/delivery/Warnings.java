package io.sluice.delivery;

import java.lang.System.Logger.Level;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One kind of warning a client can provoke at will (an ack for an unknown id, a nack beyond the
 * window), logged at most {@link #BURST} times a {@link #WINDOW_SECONDS}-second window across the
 * whole broker; the rest are counted, and the count is logged as a summary with the first warning of
 * a later window. A client sending a million bad acks writes a few lines, not a million.
 */
final class Warnings {
    static final int BURST = 10;
    static final long WINDOW_SECONDS = 60;

    private final System.Logger log;
    private final String kind;
    private final ReentrantLock lock = new ReentrantLock();
    private long windowStart = System.nanoTime();   // guarded by lock
    private int logged;                             // guarded by lock: in this window
    private long suppressed;                        // guarded by lock: since the last line

    Warnings(System.Logger log, String kind) {
        this.log = log;
        this.kind = kind;
    }

    /** Logs {@code message} unless this window's lines are spent; then only counts it. */
    void warn(String message) {
        long skipped;
        lock.lock();
        try {
            long now = System.nanoTime();
            if (now - windowStart >= TimeUnit.SECONDS.toNanos(WINDOW_SECONDS)) {
                windowStart = now;
                logged = 0;
            }
            if (logged >= BURST) {
                suppressed++;
                return;
            }
            logged++;
            skipped = suppressed;
            suppressed = 0;
        } finally {
            lock.unlock();
        }
        if (skipped > 0) {
            log.log(Level.WARNING, skipped + " more warnings of " + kind + " were not logged (at most " + BURST
                    + " are logged every " + WINDOW_SECONDS + " s)");
        }
        log.log(Level.WARNING, message);
    }

    /** Warnings counted but not logged since the last line. */
    long suppressed() {
        lock.lock();
        try {
            return suppressed;
        } finally {
            lock.unlock();
        }
    }
}
