package io.sluice.server;

import io.sluice.store.GroupMode;
import io.sluice.store.Store;
import io.sluice.store.TopicStats;
import io.sluice.telemetry.BrokerMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToLongFunction;

/**
 * The per-group gauges (labelled by topic and group): lag, and for shared groups and dead letters messages in
 * flight, age of the oldest unsettled one, dead-lettered and redelivered totals as stored, and the
 * mode. One read of every topic's stats serves all of them for a second, so a scrape reads the
 * groups once, not once per gauge. Called on the metrics collection thread.
 */
final class GroupGauges {
    private static final long FRESH_NANOS = TimeUnit.SECONDS.toNanos(1);

    private record Row(String topic, TopicStats.GroupStats group) {
    }

    private final Store store;
    private final ReentrantLock lock = new ReentrantLock();
    private List<Row> rows = List.of();   // guarded by lock
    private long readAt;                  // guarded by lock
    private boolean read;                 // guarded by lock

    GroupGauges(Store store) {
        this.store = store;
    }

    /** Registers the gauges. */
    void register(BrokerMetrics metrics) {
        // Sequences are numbered across all topics, so a cursor's distance from the last sequence is not a
        // number of messages: the lag is the group's pending count, found from positions, never a scan.
        metrics.groupGauge("sluice.subscription.lag", "Messages after the group's cursor (its pending count), "
                + "for every group", "{message}", () -> values(TopicStats.GroupStats::pending));
        metrics.groupGauge("sluice.group.in_flight", "Messages delivered to the group and not settled", "{message}",
                () -> values(TopicStats.GroupStats::inFlight));
        metrics.groupGauge("sluice.group.oldest_unacked_age", "Age since publish of the group's oldest delivered, "
                + "unsettled message (0 when none)", "ms", () -> values(g -> g.oldestUnackedAt() == 0 ? 0
                : Math.max(0, System.currentTimeMillis() - g.oldestUnackedAt())));
        metrics.groupGauge("sluice.group.dead_lettered", "Messages the group dead-lettered or terminated since it "
                + "was created (stored with the group)", "{message}",
                () -> values(TopicStats.GroupStats::deadLettered));
        metrics.groupGauge("sluice.group.redelivered_stored", "Redeliveries to the group since it was created "
                + "(stored with the group)", "{message}", () -> values(TopicStats.GroupStats::redelivered));
        metrics.groupGauge("sluice.group.shared", "1 for a SHARED group, 0 for a CONSUMER_GROUP group", "",
                () -> values(g -> g.mode() == GroupMode.SHARED ? 1 : 0));
    }

    private List<BrokerMetrics.GroupValue> values(ToLongFunction<TopicStats.GroupStats> which) {
        var out = new ArrayList<BrokerMetrics.GroupValue>();
        for (Row r : snapshot()) {
            out.add(new BrokerMetrics.GroupValue(r.topic(), r.group().group(), which.applyAsLong(r.group())));
        }
        return out;
    }

    private List<Row> snapshot() {
        lock.lock();
        try {
            long now = System.nanoTime();
            if (!read || now - readAt > FRESH_NANOS) {
                var fresh = new ArrayList<Row>();
                for (TopicStats t : store.stats(List.of())) {
                    t.groups().forEach(g -> fresh.add(new Row(t.topic(), g)));
                }
                rows = fresh;
                readAt = now;
                read = true;
            }
            return rows;
        } finally {
            lock.unlock();
        }
    }
}
