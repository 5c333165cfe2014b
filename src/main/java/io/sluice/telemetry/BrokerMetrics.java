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
import java.util.function.Supplier;

/**
 * The broker's meters. Names are OpenTelemetry's; the Prometheus exporter turns {@code sluice.publish}
 * into {@code sluice_publish_total} and {@code sluice.publish.latency} (unit s) into
 * {@code sluice_publish_latency_seconds}. Labels are bounded: topic and group names, never ids.
 * Safe to call from any thread.
 */
public final class BrokerMetrics implements AutoCloseable {
    static final AttributeKey<String> TOPIC = AttributeKey.stringKey("topic");
    static final AttributeKey<String> GROUP = AttributeKey.stringKey("group");
    /** The group label of browsing streams: parentheses never occur in group names. */
    public static final String BROWSE = "(browse)";

    /** One value of a gauge labelled by topic and group. */
    public record GroupValue(String topic, String group, long value) {
    }
    private static final List<Double> LATENCY_BUCKETS = List.of(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0);
    private static final List<Long> BATCH_BUCKETS = List.of(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 512L,
            1024L, 2048L, 4096L, 8192L);

    private final Meter meter;
    private final LongCounter published;
    private final DoubleHistogram publishLatency;
    private final LongHistogram batchSize;
    private final DoubleHistogram commitLatency;
    private final LongCounter delivered;
    private final LongCounter redelivered;
    private final LongCounter acked;
    private final LongCounter nacked;
    private final Map<String, Attributes> topicLabels = new ConcurrentHashMap<>();
    private final Map<String, Map<String, Attributes>> groupLabels = new ConcurrentHashMap<>();
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
        delivered = meter.counterBuilder("sluice.delivered")
                .setDescription("Messages sent to subscribers, first deliveries and redeliveries")
                .setUnit("{message}")
                .build();
        redelivered = meter.counterBuilder("sluice.redelivered")
                .setDescription("Deliveries of messages delivered before (after a reconnect or a nack)")
                .setUnit("{message}")
                .build();
        acked = meter.counterBuilder("sluice.acked")
                .setDescription("Acks that moved a group's cursor")
                .setUnit("{ack}")
                .build();
        nacked = meter.counterBuilder("sluice.nacked")
                .setDescription("Nacks accepted (each schedules one redelivery)")
                .setUnit("{nack}")
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

    Attributes group(String topic, String group) {
        String g = group == null ? BROWSE : group;
        return groupLabels.computeIfAbsent(topic, t -> new ConcurrentHashMap<>())
                .computeIfAbsent(g, x -> Attributes.of(TOPIC, topic, GROUP, x));
    }

    /** {@code count} messages were sent to a stream of the group (null = browsing), {@code again} of them redeliveries. */
    public void delivered(String topic, String group, int count, int again) {
        Attributes labels = group(topic, group);
        delivered.add(count, labels);
        if (again > 0) {
            redelivered.add(again, labels);
        }
    }

    /** An ack moved the group's cursor. */
    public void acked(String topic, String group) {
        acked.add(1, group(topic, group));
    }

    /** A nack was accepted. */
    public void nacked(String topic, String group) {
        nacked.add(1, group(topic, group));
    }

    /** Forgets the labels of a deleted topic. */
    public void topicDeleted(String topic) {
        topicLabels.remove(topic);
        groupLabels.remove(topic);
    }

    /** A gauge labelled by topic and group, read at each scrape. */
    public void groupGauge(String name, String description, String unit, Supplier<List<GroupValue>> values) {
        ObservableLongGauge g = meter.gaugeBuilder(name).setDescription(description).setUnit(unit).ofLongs()
                .buildWithCallback(m -> {
                    for (GroupValue v : values.get()) {
                        m.record(v.value(), Attributes.of(TOPIC, v.topic(), GROUP, v.group()));
                    }
                });
        synchronized (callbacks) {
            callbacks.add(g);
        }
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
