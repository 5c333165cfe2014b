package io.sluice.bench;

import java.util.List;

/**
 * What one load run measured over its window.
 *
 * @param messages messages answered OK in the window (a batch counts its messages)
 * @param seconds length of the window
 * @param latency per call (per batch for BatchPublish), from the send, or from the intended send in open loop
 * @param errors calls answered with an error, warmup included
 * @param notes anything a reader of the figures should know
 */
record Measured(long messages, double seconds, Latency.Summary latency, long errors, Resources resources,
                List<String> notes) {

    double perSecond() {
        return seconds > 0 ? messages / seconds : 0;
    }
}
