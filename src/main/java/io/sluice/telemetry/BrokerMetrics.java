package io.sluice.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongGauge;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The broker's meters. Names are OpenTelemetry's; the Prometheus exporter turns {@code sluice.publish}
 * into {@code sluice_publish_total} and {@code sluice.publish.latency} (unit s) into
 * {@code sluice_publish_latency_seconds}. Labels are bounded: topic and group names, never ids.
 * Safe to call from any thread.
 */
public final class BrokerMetrics implements AutoCloseable {
    static final AttributeKey<String> TOPIC = AttributeKey.stringKey("topic");
    private static final List<Double> LATENCY_BUCKETS = List.of(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0);
    private static final List<Long> BATCH_BUCKETS = List.of(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 512L,
            1024L, 2048L, 4096L, 8192L);

    private final Meter meter;
    private final LongCounter published;
    private final DoubleHistogram publishLatency;
    private final LongHistogram batchSize;
    private final DoubleHistogram commitLatency;
    private final Map<String, Attributes> topicLabels = new ConcurrentHashMap<>();
    private final List<AutoCloseable> callbacks = new ArrayList<>();

    BrokerMetrics(Meter meter) {
        this.meter = meter;
        published = meter.counterBuilder("sluice.publish")
                .setDescription("Messages stored and acknowledged to publishers")
                .setUnit("{message}")
                .build();
        publishLatency = meter.histogramBuilder("sluice.publish.latency")
                .setDescription("Time from a publish request to its committed reply")
                .setUnit("s")
                .setExplicitBucketBoundariesAdvice(LATENCY_BUCKETS)
                .build();
        batchSize = meter.histogramBuilder("sluice.writer.batch.size")
                .setDescription("Messages written per commit by the writer")
                .setUnit("{message}")
                .ofLongs()
                .setExplicitBucketBoundariesAdvice(BATCH_BUCKETS)
                .build();
        commitLatency = meter.histogramBuilder("sluice.writer.commit.latency")
                .setDescription("Time to write and commit (fsync) one writer transaction")
                .setUnit("s")
                .setExplicitBucketBoundariesAdvice(LATENCY_BUCKETS)
                .build();
    }

    Attributes topic(String topic) {
        return topicLabels.computeIfAbsent(topic, t -> Attributes.of(TOPIC, t));
    }

    /** {@code count} messages of {@code topic} were committed and answered, {@code nanos} after the request. */
    public void published(String topic, int count, long nanos) {
        Attributes labels = topic(topic);
        published.add(count, labels);
        publishLatency.record(nanos / 1e9, labels);
    }

    /** One writer commit of {@code messages} messages took {@code nanos}. */
    public void committed(int messages, long nanos) {
        if (messages > 0) {
            batchSize.record(messages);
        }
        commitLatency.record(nanos / 1e9);
    }

    /** A gauge read at each scrape. */
    public void gauge(String name, String description, String unit, LongSupplier value) {
        ObservableLongGauge g = meter.gaugeBuilder(name).setDescription(description).setUnit(unit).ofLongs()
                .buildWithCallback(m -> m.record(value.getAsLong()));
        synchronized (callbacks) {
            callbacks.add(g);
        }
    }

    void buildInfo(String version) {
        ObservableLongGauge g = meter.gaugeBuilder("sluice.build.info")
                .setDescription("The running build: always 1, the version as a label")
                .ofLongs()
                .buildWithCallback(m -> m.record(1, Attributes.of(AttributeKey.stringKey("version"), version,
                        AttributeKey.stringKey("java_version"), System.getProperty("java.version"))));
        synchronized (callbacks) {
            callbacks.add(g);
        }
    }

    @Override
    public void close() {
        synchronized (callbacks) {
            for (AutoCloseable c : callbacks) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // gauges only unregister their callbacks
                }
            }
            callbacks.clear();
        }
    }
}
