package io.sluice.bench;

import java.util.function.UnaryOperator;

/**
 * What a scenario runs against: one broker (started for it, or the {@code --target}), the client
 * channels to it, the probe measuring it, and the options. Topic names carry {@code prefix}, so
 * runs against one running broker never share topics; {@code target} is the broker's HOST:PORT. Each finished row goes to {@link #done}.
 */
record Session(BenchOptions options, Clients clients, Probe probe, String prefix, UnaryOperator<Row> sink,
               String target) {

    String topic(String name) {
        return prefix + name;
    }

    /** Hands a finished row to the report (and prints a progress line). */
    Row done(Row row) {
        return sink.apply(row);
    }
}
