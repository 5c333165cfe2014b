package io.sluice.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reconnect pauses: {@code initial * 2^attempt}, capped at {@code max}, then a random point in its
 * upper half ("equal jitter"), so clients that lost the same broker do not come back in step.
 */
final class Backoff {
    private final long initialNanos;
    private final long maxNanos;

    Backoff(Duration initial, Duration max) {
        this.initialNanos = initial.toNanos();
        this.maxNanos = max.toNanos();
    }

    /** The pause before attempt {@code attempt} (0 for the first retry). */
    long pauseNanos(int attempt) {
        long base = initialNanos;
        for (int i = 0; i < attempt && base < maxNanos; i++) {
            base *= 2;
        }
        base = Math.min(base, maxNanos);
        long half = base / 2;
        return half + ThreadLocalRandom.current().nextLong(half + 1);
    }
}
