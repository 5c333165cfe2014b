package io.sluice.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The broker's meters. Names are OpenTelemetry's; the Prometheus exporter turns {@code sluice.publish}
 * into {@code sluice_publish_total} and {@code sluice.publish.latency} (unit s) into
 * {@code sluice_publish_latency_seconds}. Labels are bounded: topic and group names, never ids.
 *
 * <p>The counters labelled by topic or group are kept here, in adders, and reported through
 * asynchronous instruments: a series exists only while its topic (and group) does. The SDK would keep
 * a synchronous instrument's series forever, so a deleted topic's series would stay in every scrape.
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

    /** The figures one consumer group of a topic has been counted with since the broker started. */
    public record GroupCounts(long delivered, long redelivered, long acked, long nacked) {
    }

    private static final List<Double> LATENCY_BUCKETS = List.of(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0);
    private static final List<Long> BATCH_BUCKETS = List.of(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 512L,
            1024L, 2048L, 4096L, 8192L);

    /** The counts of one (topic, group). */
    private static final class Counters {
        final Attributes labels;
        final LongAdder delivered = new LongAdder();
        final LongAdder redelivered = new LongAdder();
        final LongAdder acked = new LongAdder();
        final LongAdder nacked = new LongAdder();
        final LongAdder ignored = new LongAdder();

        Counters(Attributes labels) {
            this.labels = labels;
        }
    }

    /** The counts of one topic and of its groups. */
    private static final class TopicCounters {
        final Attributes labels;
        final LongAdder published = new LongAdder();
        final LongAdder discarded = new LongAdder();
        final LongAdder skipped = new LongAdder();
        final Map<String, Counters> groups = new ConcurrentHashMap<>();

        TopicCounters(Attributes labels) {
            this.labels = labels;
        }
    }

    private final Meter meter;
    private final DoubleHistogram publishLatency;
    private final LongHistogram batchSize;
    private final DoubleHistogram commitLatency;
    private final LongAdder commitNanos = new LongAdder();
    private final LongAdder commits = new LongAdder();
    private final Map<String, TopicCounters> topics = new ConcurrentHashMap<>();
    private final List<AutoCloseable> callbacks = new ArrayList<>();
    private volatile Supplier<Set<List<String>>> liveGroups;   // null: every group is kept

    BrokerMetrics(Meter meter) {
        this.meter = meter;
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
        keep(meter.counterBuilder("sluice.publish")
                .setDescription("Messages stored and acknowledged to publishers")
                .setUnit("{message}")
                .buildWithCallback(m -> topics.values().forEach(t -> m.record(t.published.sum(), t.labels))));
        keep(meter.counterBuilder("sluice.retention.discarded")
                .setDescription("Messages removed by retention (age, count or byte limits)")
                .setUnit("{message}")
                .buildWithCallback(m -> topics.values().forEach(t -> m.record(t.discarded.sum(), t.labels))));
        keep(meter.counterBuilder("sluice.retention.skipped")
                .setDescription("Messages removed by retention before a consumer group read them (once per group)")
                .setUnit("{message}")
                .buildWithCallback(m -> topics.values().forEach(t -> m.record(t.skipped.sum(), t.labels))));
        groupCounter("sluice.delivered", "Messages sent to subscribers, first deliveries and redeliveries",
                "{message}", c -> c.delivered);
        groupCounter("sluice.redelivered", "Deliveries of messages delivered before (after a reconnect or a nack)",
                "{message}", c -> c.redelivered);
        groupCounter("sluice.acked", "Messages settled by acks (the delivered messages a cumulative ack moved the "
                + "cursor over)", "{message}", c -> c.acked);
        groupCounter("sluice.nacked", "Nacks accepted (each schedules one redelivery)", "{nack}", c -> c.nacked);
        groupCounter("sluice.acks.ignored", "Settles (ack, nack, in_progress, term) of a shared group's messages "
                + "from a stream that no longer held their lease", "{ack}", c -> c.ignored);
    }

    private void groupCounter(String name, String description, String unit,
                              java.util.function.Function<Counters, LongAdder> which) {
        keep(meter.counterBuilder(name).setDescription(description).setUnit(unit)
                .buildWithCallback(m -> observeGroups(m, which)));
    }

    private void observeGroups(ObservableLongMeasurement m, java.util.function.Function<Counters, LongAdder> which) {
        Set<List<String>> live = liveGroups == null ? null : liveGroups.get();
        topics.forEach((topic, t) -> t.groups.forEach((group, c) -> {
            if (live != null && !group.equals(BROWSE) && !live.contains(List.of(topic, group))) {
                t.groups.remove(group, c);   // the group was deleted: its series go with it
                return;
            }
            m.record(which.apply(c).sum(), c.labels);
        }));
    }

    private TopicCounters topic(String topic) {
        return topics.computeIfAbsent(topic, t -> new TopicCounters(Attributes.of(TOPIC, t)));
    }

    private Counters group(String topic, String group) {
        String g = group == null ? BROWSE : group;
        return topic(topic).groups.computeIfAbsent(g, x -> new Counters(Attributes.of(TOPIC, topic, GROUP, x)));
    }

    /**
     * Tells which (topic, group) pairs exist, asked at each collection: the series of groups no longer
     * among them are dropped. Without it every group counted since the start is kept.
     */
    public void liveGroups(Supplier<Set<List<String>>> groups) {
        this.liveGroups = groups;
    }

    /** {@code count} messages of {@code topic} were committed and answered, {@code nanos} after the request. */
    public void published(String topic, int count, long nanos) {
        topic(topic).published.add(count);
        publishLatency.record(nanos / 1e9);
    }

    /** {@code count} messages were sent to a stream of the group (null = browsing), {@code again} of them redeliveries. */
    public void delivered(String topic, String group, int count, int again) {
        Counters c = group(topic, group);
        c.delivered.add(count);
        if (again > 0) {
            c.redelivered.add(again);
        }
    }

    /** Retention removed {@code removed} messages of the topic, {@code skipped} of them unread by some group. */
    public void discarded(String topic, long removed, long skipped) {
        TopicCounters t = topic(topic);
        t.discarded.add(removed);
        t.skipped.add(skipped);
    }

    /** Messages retention removed before some group read them, since the start (counted once per group). */
    public long skipped(String topic) {
        TopicCounters t = topics.get(topic);
        return t == null ? 0 : t.skipped.sum();
    }

    /** Acks settled {@code count} messages of the group (moved its cursor over them, in an exclusive group). */
    public void acked(String topic, String group, int count) {
        group(topic, group).acked.add(count);
    }

    /** {@code count} settles came from a stream that no longer held the lease: ignored. */
    public void ignoredAcks(String topic, String group, int count) {
        group(topic, group).ignored.add(count);
    }

    /** A nack was accepted. */
    public void nacked(String topic, String group) {
        group(topic, group).nacked.increment();
    }

    /** Forgets a deleted topic: its series and its groups' series are gone from the next collection. */
    public void topicDeleted(String topic) {
        topics.remove(topic);
    }

    /** Messages published to each topic since the start (topics created since, or still present). */
    public Map<String, Long> publishedByTopic() {
        var out = new java.util.TreeMap<String, Long>();
        topics.forEach((name, t) -> out.put(name, t.published.sum()));
        return out;
    }

    /** What each group of {@code topic} has been counted with since the start; browsing under {@link #BROWSE}. */
    public Map<String, GroupCounts> groupCounts(String topic) {
        TopicCounters t = topics.get(topic);
        var out = new java.util.TreeMap<String, GroupCounts>();
        if (t != null) {
            t.groups.forEach((g, c) -> out.put(g, new GroupCounts(c.delivered.sum(), c.redelivered.sum(),
                    c.acked.sum(), c.nacked.sum())));
        }
        return out;
    }

    /** Writer commits since the start and the nanoseconds they took together. */
    public long[] commitTotals() {
        return new long[] {commits.sum(), commitNanos.sum()};
    }

    /** A gauge labelled by topic and group, read at each scrape. */
    public void groupGauge(String name, String description, String unit, Supplier<List<GroupValue>> values) {
        keep(meter.gaugeBuilder(name).setDescription(description).setUnit(unit).ofLongs()
                .buildWithCallback(m -> {
                    for (GroupValue v : values.get()) {
                        m.record(v.value(), Attributes.of(TOPIC, v.topic(), GROUP, v.group()));
                    }
                }));
    }

    /** One writer commit of {@code messages} messages took {@code nanos}. */
    public void committed(int messages, long nanos) {
        if (messages > 0) {
            batchSize.record(messages);
        }
        commitLatency.record(nanos / 1e9);
        commits.increment();
        commitNanos.add(nanos);
    }

    /** A gauge read at each scrape. */
    public void gauge(String name, String description, String unit, LongSupplier value) {
        keep(meter.gaugeBuilder(name).setDescription(description).setUnit(unit).ofLongs()
                .buildWithCallback(m -> m.record(value.getAsLong())));
    }

    private void keep(AutoCloseable callback) {
        synchronized (callbacks) {
            callbacks.add(callback);
        }
    }

    @Override
    public void close() {
        synchronized (callbacks) {
            for (AutoCloseable c : callbacks) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // instruments only unregister their callbacks
                }
            }
            callbacks.clear();
        }
    }
}
