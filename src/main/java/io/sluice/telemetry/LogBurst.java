package io.sluice.telemetry;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * How often one kind of log line a client can provoke at will is written: at most {@link #BURST}
 * times in a {@link #WINDOW_SECONDS}-second window; the rest are counted, and the count goes out
 * with the first line of a later window. A client repeating a bad request a million times writes
 * a few lines, not a million.
 */
public final class LogBurst {
    public static final int BURST = 10;
    public static final long WINDOW_SECONDS = 60;

    private final ReentrantLock lock = new ReentrantLock();
    private long windowStart = System.nanoTime();   // guarded by lock
    private int logged;                             // guarded by lock: in this window
    private long suppressed;                        // guarded by lock: since the last line

    /**
     * Whether a line may be written now: -1 when not (it is counted), else how many were not written
     * since the last one (to be said with it).
     */
    public long admit() {
        lock.lock();
        try {
            long now = System.nanoTime();
            if (now - windowStart >= TimeUnit.SECONDS.toNanos(WINDOW_SECONDS)) {
                windowStart = now;
                logged = 0;
            }
            if (logged >= BURST) {
                suppressed++;
                return -1;
            }
            logged++;
            long skipped = suppressed;
            suppressed = 0;
            return skipped;
        } finally {
            lock.unlock();
        }
    }

    /** The line that says how many of {@code kind} were not written. */
    public static String summary(long skipped, String kind) {
        return skipped + " more " + kind + " were not logged (at most " + BURST + " are logged every "
                + WINDOW_SECONDS + " s)";
    }
}
