package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * All subscription streams: opens them, routes each commit to the streams of its topic, enforces one
 * active stream per consumer group (takeover), remembers each group's delivery counts, and ends
 * every stream at shutdown. Listener calls come from the writer thread and only signal.
 */
public final class Delivery implements StoreListener, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Delivery.class.getName());

    private final Store store;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final long heartbeatNanos;
    private final AtomicLong ids = new AtomicLong();
    private final Map<String, Set<Subscription>> byTopic = new ConcurrentHashMap<>();
    private final Map<SubscriptionSpec.GroupKey, Subscription> activeGroups = new ConcurrentHashMap<>();
    private final Map<SubscriptionSpec.GroupKey, GroupState> groups = new ConcurrentHashMap<>();
    private final Map<SubscriptionSpec.GroupKey, DeliveredMark> marks = new ConcurrentHashMap<>();
    private final Set<Subscription> all = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    public Delivery(Store store, Duration heartbeat, BrokerMetrics metrics, Tracing tracing) {
        this.store = store;
        this.metrics = metrics;
        this.tracing = tracing;
        this.heartbeatNanos = heartbeat.toNanos();
        store.listen(this);
    }

    /**
     * Opens a stream for {@code spec} writing to {@code out} and starts its thread. Called on the
     * inbound thread when init arrives; the caller wires cancel and readiness to the result.
     */
    public Subscription open(SubscriptionSpec spec, Downstream out) {
        if (closing) {
            throw new SluiceException.Unavailable("the broker is shutting down");
        }
        GroupState group = spec.browse() ? new GroupState() : groups.computeIfAbsent(spec.key(), k -> new GroupState());
        var sub = new Subscription(ids.incrementAndGet(), spec, store, this, group, out, heartbeatNanos);
        all.add(sub);
        sub.start();
        return sub;
    }

    /** The last committed sequence of the topic (0 when it is empty or unknown). */
    public long lastSequence(String topic) {
        return store.lastSequence(topic);
    }

    /** The number of streams open now. */
    public int activeStreams() {
        return all.size();
    }

    BrokerMetrics metrics() {
        return metrics;
    }

    Tracing tracing() {
        return tracing;
    }

    /**
     * For each (topic, group) with an open stream: 1 when a stream has no credit while messages wait
     * for it, else 0. Browsing streams report under {@link BrokerMetrics#BROWSE}.
     */
    public List<BrokerMetrics.GroupValue> backpressure() {
        var flags = new java.util.TreeMap<String, java.util.TreeMap<String, Long>>();
        for (Subscription s : all) {
            String group = s.spec().browse() ? BrokerMetrics.BROWSE : s.spec().group();
            flags.computeIfAbsent(s.spec().topic(), t -> new java.util.TreeMap<>())
                    .merge(group, s.starved() ? 1L : 0L, Math::max);
        }
        var out = new java.util.ArrayList<BrokerMetrics.GroupValue>();
        flags.forEach((topic, groups) -> groups.forEach((g, v) -> out.add(new BrokerMetrics.GroupValue(topic, g, v))));
        return out;
    }

    void register(Subscription sub) {
        byTopic.computeIfAbsent(sub.spec().topic(), t -> ConcurrentHashMap.newKeySet()).add(sub);
        if (closing) {
            sub.end(End.SHUTTING_DOWN);
        }
    }

    /** Makes {@code sub} the group's active stream; a previous one stops taking acks and ends TAKEN_OVER. */
    void takeOverGroup(Subscription sub) {
        Subscription previous = activeGroups.put(sub.spec().key(), sub);
        if (previous != null && previous != sub) {
            LOG.log(Level.INFO, "group " + sub.spec().group() + " on " + sub.spec().topic()
                    + ": a new stream takes over");
            previous.takeOver();
        }
    }

    void unregister(Subscription sub) {
        all.remove(sub);
        Set<Subscription> subs = byTopic.get(sub.spec().topic());
        if (subs != null) {
            subs.remove(sub);
            if (subs.isEmpty()) {
                byTopic.remove(sub.spec().topic(), subs);
            }
        }
        if (!sub.spec().browse()) {
            activeGroups.remove(sub.spec().key(), sub);
        }
    }

    /** Queues a cumulative ack to the writer (inbound thread; blocks while the writer queue is full). */
    void ack(SubscriptionSpec spec, long sequence) throws InterruptedException {
        store.ack(spec.topic(), spec.group(), sequence,
                logFailure("ack of " + spec.topic() + "/" + spec.group() + " up to " + sequence));
    }

    /** Records the group's delivered mark, one write in flight per group at a time. */
    void markDelivered(SubscriptionSpec spec, long sequence) {
        DeliveredMark mark = marks.computeIfAbsent(spec.key(), k -> new DeliveredMark());
        mark.wanted.accumulateAndGet(sequence, Math::max);
        writeMark(spec, mark);
    }

    /**
     * Writes the group's newest delivered mark unless a write is in flight; when that write commits,
     * a newer mark requested meanwhile is written next, so the stored mark never stays behind.
     */
    private void writeMark(SubscriptionSpec spec, DeliveredMark mark) {
        if (!mark.writing.compareAndSet(false, true)) {
            return;
        }
        long sequence = mark.wanted.get();
        store.markDelivered(spec.topic(), spec.group(), sequence, new Completion<>() {
            @Override
            public void committed(Void result) {
                next();
            }

            @Override
            public void failed(SluiceException error) {
                mark.writing.set(false);   // shutting down or failing: the next delivery asks again
            }

            private void next() {
                mark.writing.set(false);
                if (mark.wanted.get() > sequence) {
                    writeMark(spec, mark);
                }
            }
        });
    }

    /** The highest sequence delivered to a group that should be stored, and whether a write is in flight. */
    private static final class DeliveredMark {
        final AtomicLong wanted = new AtomicLong();
        final AtomicBoolean writing = new AtomicBoolean();

        boolean settled() {
            return !writing.get();
        }
    }

    @Override
    public void appended(String topic, long lastSequence) {
        Set<Subscription> subs = byTopic.get(topic);
        if (subs != null) {
            for (Subscription s : subs) {
                s.committed(lastSequence);
            }
        }
    }

    @Override
    public void topicDeleted(String topic) {
        Set<Subscription> subs = byTopic.get(topic);
        if (subs != null) {
            for (Subscription s : subs) {
                s.end(End.TOPIC_DELETED);
            }
        }
        groups.keySet().removeIf(k -> k.topic().equals(topic));
        marks.keySet().removeIf(k -> k.topic().equals(topic));
        metrics.topicDeleted(topic);
    }

    @Override
    public void cursorReset(String topic, String group, long cursor) {
        var key = new SubscriptionSpec.GroupKey(topic, group);
        if (cursor < 0) {
            groups.remove(key);   // the group was deleted; a live stream recreates it with its next ack
            marks.remove(key);
            return;
        }
        GroupState state = groups.get(key);
        if (state != null) {
            state.reset(cursor);
        }
        Subscription active = activeGroups.get(key);
        if (active != null) {
            active.reposition(cursor);
        }
    }

    /** Ends every stream with SHUTTING_DOWN and waits (up to {@code grace}) for their threads. Idempotent. */
    public void close(Duration grace) {
        closing = true;
        List<Subscription> open = List.copyOf(all);
        for (Subscription s : open) {
            s.end(End.SHUTTING_DOWN);
        }
        long deadline = System.nanoTime() + grace.toNanos();
        for (Subscription s : open) {
            Thread t = s.thread();
            long left = deadline - System.nanoTime();
            if (t == null || left <= 0) {
                continue;
            }
            try {
                t.join(Duration.ofNanos(left));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        // Let the last delivered marks reach the writer's final commit (bounded by the grace period).
        while (!marks.values().stream().allMatch(DeliveredMark::settled) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
            Thread.yield();
        }
        if (!all.isEmpty()) {
            LOG.log(Level.WARNING, all.size() + " subscription threads still running after "
                    + TimeUnit.NANOSECONDS.toMillis(grace.toNanos()) + " ms; interrupting them");
            all.forEach(s -> {
                if (s.thread() != null) {
                    s.thread().interrupt();
                }
            });
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }

    /** Logs an ack the writer could not store: the message is delivered again after a reconnect. */
    private static Completion<Boolean> logFailure(String what) {
        return new Completion<>() {
            @Override
            public void committed(Boolean result) {
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, what + " was not stored: " + error.getMessage());
            }
        };
    }
}
