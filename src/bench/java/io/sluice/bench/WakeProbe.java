package io.sluice.bench;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * The machine's own floor under the fixed-rate scenarios, measured just before them: one thread
 * sleeps until each of {@code rate} intended times a second, exactly as the open-loop sender does,
 * while nothing else of the bench runs (the broker is idle). How late it wakes is what the host does
 * to any thread before a broker adds anything, and every message of a fixed-rate run needs several
 * such wake-ups on each side. On this kind of virtual machine it moves with the host's own load: p99
 * 0.1-0.3 ms in quiet periods, several milliseconds in busy ones.
 */
final class WakeProbe {
    private WakeProbe() {
    }

    /** Sleeps to each intended time for {@code length}; the lateness of the wake-ups. */
    static Latency.Summary run(int rate, Duration length) {
        var late = new Latency();
        long start = System.nanoTime();
        long count = length.toNanos() * rate / 1_000_000_000L;
        for (long i = 1; i <= count; i++) {
            long intended = start + i * 1_000_000_000L / rate;
            late.record(sleepUntil(intended) - intended);
        }
        return late.take();
    }

    /** Parks until {@code intended} (a {@link System#nanoTime()} value); the time it woke. */
    static long sleepUntil(long intended) {
        long now = System.nanoTime();
        while (now - intended < 0) {
            LockSupport.parkNanos(intended - now);
            now = System.nanoTime();
        }
        return now;
    }

    /** The note the fixed-rate rows carry. */
    static String describe(Latency.Summary late, int rate, Duration length) {
        return String.format(Locale.ROOT, "just before, with nothing running, a thread waking %,d times a second "
                + "was late by p50 %.3f, p99 %.2f, p99.9 %.2f, at most %.1f ms over %d s (the machine's floor then)",
                rate, late.p50(), late.p99(), late.p999(), late.max(), length.toSeconds());
    }
}
