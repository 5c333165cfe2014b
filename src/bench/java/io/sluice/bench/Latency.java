package io.sluice.bench;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Latencies in nanoseconds, recorded from any thread without locks (HdrHistogram's {@link Recorder}).
 * {@link #restart()} drops what was recorded so far (the warmup); {@link #take()} summarises what was
 * recorded since.
 */
final class Latency {
    private final Recorder recorder = new Recorder(3);   // auto-resizing, 3 significant digits

    void record(long nanos) {
        recorder.recordValue(Math.max(0, nanos));
    }

    void restart() {
        recorder.reset();
    }

    Summary take() {
        return Summary.of(recorder.getIntervalHistogram());
    }

    /** Percentiles in milliseconds over {@code count} samples; all zero when there were none. */
    record Summary(long count, double p50, double p99, double p999, double max) {
        static final Summary NONE = new Summary(0, 0, 0, 0, 0);

        static Summary of(Histogram h) {
            if (h.getTotalCount() == 0) {
                return NONE;
            }
            return new Summary(h.getTotalCount(), ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(99)),
                    ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()));
        }

        private static double ms(long nanos) {
            return nanos / 1e6;
        }
    }
}
