package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * All subscription streams: opens them, routes each commit to the streams of its topic, enforces one
 * active stream per consumer group (takeover), remembers each group's delivery counts, and ends
 * every stream at shutdown. Listener calls come from the writer thread and only signal.
 */
public final class Delivery implements StoreListener, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Delivery.class.getName());
    private static final Warnings RELEASES = new Warnings(LOG, "leases not released");
    /** How often, and how long, the leases of an ended stream are tried again when the store failed. */
    static final Duration RELEASE_RETRY = Duration.ofSeconds(1);
    static final Duration RELEASE_RETRY_FOR = Duration.ofMinutes(10);
    /** Runs a retry after {@link #RELEASE_RETRY}, on a virtual thread: queueing to the writer may wait. */
    private static final java.util.concurrent.Executor RETRIES = java.util.concurrent.CompletableFuture
            .delayedExecutor(RELEASE_RETRY.toMillis(), TimeUnit.MILLISECONDS, r -> Thread.ofVirtual().start(r));

    private final Store store;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final long heartbeatNanos;
    private final AtomicLong ids = new AtomicLong();
    private final Map<String, Set<Member>> byTopic = new ConcurrentHashMap<>();
    private final Map<SubscriptionSpec.GroupKey, Subscription> activeGroups = new ConcurrentHashMap<>();
    private final Map<SubscriptionSpec.GroupKey, Set<SharedSubscription>> sharedGroups = new ConcurrentHashMap<>();
    private final Set<Member> all = ConcurrentHashMap.newKeySet();
    /** Names this broker run in lease holders, so a holder is unique across brokers and restarts. */
    private final String instance = java.util.UUID.randomUUID().toString();
    private volatile boolean closing;
    private final DeliveryBudget budget;

    /** {@code budgetBytes}: most bytes of messages all streams hold outside the store ({@link DeliveryBudget}). */
    public Delivery(Store store, Duration heartbeat, BrokerMetrics metrics, Tracing tracing, long budgetBytes) {
        this.budget = new DeliveryBudget(budgetBytes);
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
    public SubscriptionHandle open(SubscriptionSpec spec, Downstream out) {
        if (closing) {
            throw new SluiceException.Unavailable("the broker is shutting down");
        }
        if (spec.shared()) {
            var sub = new SharedSubscription(ids.incrementAndGet(), instance, spec, store, this, out, heartbeatNanos);
            all.add(sub);
            sub.start();
            return sub;
        }
        var sub = new Subscription(ids.incrementAndGet(), spec, store, this, out, heartbeatNanos);
        all.add(sub);
        sub.start();
        return sub;
    }

    /** The budget for the bytes of messages every stream holds outside the store. */
    DeliveryBudget budget() {
        return budget;
    }

    /** Bytes of messages the streams hold outside the store now (read and not sent, or queued in the transport). */
    public long heldBytes() {
        return budget.used();
    }

    /** Of {@link #heldBytes}: what ended streams hold in the transport until their calls are over there. */
    public long heldByEndedStreams() {
        return budget.ended.get();
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
        for (Member s : all) {
            String group = s.spec().browse() ? BrokerMetrics.BROWSE : s.spec().group();
            flags.computeIfAbsent(s.spec().topic(), t -> new java.util.TreeMap<>())
                    .merge(group, s.starved() ? 1L : 0L, Math::max);
        }
        var out = new java.util.ArrayList<BrokerMetrics.GroupValue>();
        flags.forEach((topic, groups) -> groups.forEach((g, v) -> out.add(new BrokerMetrics.GroupValue(topic, g, v))));
        return out;
    }

    void register(Member sub) {
        byTopic.computeIfAbsent(sub.spec().topic(), t -> ConcurrentHashMap.newKeySet()).add(sub);
        if (sub instanceof SharedSubscription shared) {
            sharedGroups.computeIfAbsent(sub.spec().key(), k -> ConcurrentHashMap.newKeySet()).add(shared);
        }
        if (closing) {
            sub.end(End.SHUTTING_DOWN);
        }
    }

    /**
     * Makes {@code sub} the group's active stream; a previous one hands over: its acks received are
     * handled, then it ends TAKEN_OVER ({@link Subscription#handOver}, waited for on {@code sub}'s thread).
     */
    void takeOverGroup(Subscription sub) throws InterruptedException {
        Subscription previous = activeGroups.put(sub.spec().key(), sub);
        if (previous != null && previous != sub) {
            LOG.log(Level.INFO, "group " + sub.spec().group() + " on " + sub.spec().topic()
                    + ": a new stream takes over");
            previous.handOver();
        }
    }

    void unregister(Member sub) {
        all.remove(sub);
        if (sub instanceof SharedSubscription shared) {
            Set<SharedSubscription> members = sharedGroups.get(sub.spec().key());
            if (members != null) {
                members.remove(shared);
                if (members.isEmpty()) {
                    sharedGroups.remove(sub.spec().key(), members);
                }
            }
        }
        Set<Member> subs = byTopic.get(sub.spec().topic());
        if (subs != null) {
            subs.remove(sub);
            if (subs.isEmpty()) {
                byTopic.remove(sub.spec().topic(), subs);
            }
        }
        if (sub instanceof Subscription exclusive && !sub.spec().browse()) {
            activeGroups.remove(sub.spec().key(), exclusive);
        }
    }

    /**
     * Queues a cumulative ack under the stream's claim to the writer (inbound thread; blocks while the
     * writer queue is full); the store leaves the cursor alone when a newer stream claimed the group.
     */
    void ack(SubscriptionSpec spec, long claim, long sequence, Consumer<SluiceException> notStored)
            throws InterruptedException {
        store.ack(spec.topic(), spec.group(), claim, sequence, new Completion<>() {
            @Override
            public void committed(Boolean moved) {
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, "ack of " + spec.topic() + "/" + spec.group() + " up to " + sequence
                        + " was not stored: " + error.getMessage());
                notStored.accept(error);
            }
        });
    }

    /**
     * Queues a Term to the writer (inbound thread; blocks while the writer queue is full); wakes the group.
     * A shared stream names its {@code holder}; an exclusive one passes null and its {@code claim}.
     * {@code notDone} runs when the store did not terminate it (a shared stream no longer held it), {@code
     * notStored} when the store failed.
     */
    void terminate(SubscriptionSpec spec, String holder, long claim, long sequence, String reason, Runnable notDone,
                   Consumer<SluiceException> notStored) throws InterruptedException {
        Completion<Boolean> told = new Completion<>() {
            @Override
            public void committed(Boolean done) {
                if (done) {
                    groupChanged(spec, false);
                } else {
                    notDone.run();
                }
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, "term of message " + sequence + " on " + spec.topic() + " group "
                        + spec.group() + " was not stored: " + error.getMessage());
                notStored.accept(error);
            }
        };
        if (holder != null) {
            store.terminate(spec.topic(), spec.group(), holder, sequence, reason, told);
        } else {
            store.terminate(spec.topic(), spec.group(), claim, sequence, reason, told);
        }
    }

    /**
     * A shared group's leases changed (writer thread): its streams ask the store again. {@code room}: a
     * settle, which matters only to streams held back by the group's max in flight.
     */
    void groupChanged(SubscriptionSpec spec, boolean room) {
        Set<SharedSubscription> members = sharedGroups.get(spec.key());
        if (members != null) {
            members.forEach(s -> s.groupChanged(room));
        }
    }

    /**
     * Releases every lease of an ended shared stream, so the group's other streams may take them. Leases the
     * store could not release (the database unreachable) are tried again every {@link #RELEASE_RETRY} for up
     * to {@link #RELEASE_RETRY_FOR}, instead of being held until the group's ack wait has passed.
     */
    void release(SubscriptionSpec spec, String holder) {
        release(spec, holder, System.nanoTime() + RELEASE_RETRY_FOR.toNanos(), true);
    }

    private void release(SubscriptionSpec spec, String holder, long giveUpAt, boolean first) {
        store.releaseAll(spec.topic(), spec.group(), holder, new Completion<>() {
            @Override
            public void committed(Integer count) {
                if (count > 0) {
                    groupChanged(spec, false);
                }
            }

            @Override
            public void failed(SluiceException error) {
                String what = "leases of an ended stream on " + spec.topic() + " group " + spec.group()
                        + " were not released (" + error.getMessage() + ")";
                if (closing || System.nanoTime() - giveUpAt >= 0) {
                    LOG.log(Level.WARNING, what + "; they come back after the group's ack wait");
                    return;
                }
                if (first) {
                    RELEASES.warn(what + "; trying again every " + RELEASE_RETRY.toMillis() + " ms");
                }
                RETRIES.execute(() -> release(spec, holder, giveUpAt, false));
            }
        });
    }

    @Override
    public void appended(String topic, long lastSequence) {
        Set<Member> subs = byTopic.get(topic);
        if (subs != null) {
            for (Member s : subs) {
                s.committed(lastSequence);
            }
        }
    }

    @Override
    public void topicDeleted(String topic) {
        Set<Member> subs = byTopic.get(topic);
        if (subs != null) {
            for (Member s : subs) {
                s.end(End.TOPIC_DELETED);
            }
        }
        metrics.topicDeleted(topic);
    }

    /**
     * A stream on another broker claimed the group: this broker's stream of it, if it holds an older
     * claim, stops taking acks and ends TAKEN_OVER, as a local takeover ends it.
     */
    @Override
    public void groupClaimed(String topic, String group, long claim) {
        Subscription active = activeGroups.get(new SubscriptionSpec.GroupKey(topic, group));
        if (active != null && active.claim() != Store.NO_CLAIM && active.claim() < claim) {
            LOG.log(Level.INFO, "group " + group + " on " + topic + ": a stream on another broker takes over");
            active.takeOver();
        }
    }

    /** Another broker settled or released leases of a shared group: its streams here ask the store again. */
    @Override
    public void sharedGroupChanged(String topic, String group, boolean released) {
        Set<SharedSubscription> members = sharedGroups.get(new SubscriptionSpec.GroupKey(topic, group));
        if (members != null) {
            members.forEach(s -> s.groupChanged(!released));
        }
    }

    @Override
    public void sharedGroupsMayHaveChanged() {
        sharedGroups.values().forEach(members -> members.forEach(s -> s.groupChanged(true)));   // wakes the full ones
    }

    /** Another broker's leases count as released now: every shared stream here asks again. */
    @Override
    public void otherRunGone() {
        sharedGroups.values().forEach(members -> members.forEach(s -> s.groupChanged(false)));
    }

    /**
     * Before an operator's cursor reset of {@code group} is stored: the group's live exclusive stream here
     * ignores acks, and its shared streams here ask for no leases, until they learn of it ({@link
     * #cursorReset}); the answer undoes that when the reset failed.
     */
    public Runnable holdForReset(String topic, String group) {
        var key = new SubscriptionSpec.GroupKey(topic, group);
        var undo = new ArrayList<Runnable>();
        Subscription active = activeGroups.get(key);
        if (active != null) {
            undo.add(active.holdForReset());
        }
        Set<SharedSubscription> shared = sharedGroups.get(key);
        if (shared != null) {
            shared.forEach(s -> undo.add(s.holdForReset()));
        }
        return () -> undo.forEach(Runnable::run);
    }

    @Override
    public void cursorReset(String topic, String group, long cursor) {
        var key = new SubscriptionSpec.GroupKey(topic, group);
        Set<SharedSubscription> shared = sharedGroups.get(key);
        Subscription active = activeGroups.get(key);
        if (cursor < 0) {
            // The group was deleted (here or through another broker): its streams end, as a deleted topic's do.
            if (shared != null) {
                shared.forEach(s -> s.end(End.GROUP_DELETED));
            }
            if (active != null) {
                active.end(End.GROUP_DELETED);
            }
            return;
        }
        if (shared != null) {
            // Its leases were cleared: what the streams hold is no longer theirs and may go to any stream,
            // so they end, telling their clients, who open again at the new cursor.
            shared.forEach(s -> s.end(End.CURSOR_RESET));
        }
        if (active != null) {
            active.reposition(cursor);
        }
    }

    /** Ends every stream with SHUTTING_DOWN and waits (up to {@code grace}) for their threads. Idempotent. */
    public void close(Duration grace) {
        closing = true;
        List<Member> open = List.copyOf(all);
        for (Member s : open) {
            s.end(End.SHUTTING_DOWN);
        }
        long deadline = System.nanoTime() + grace.toNanos();
        for (Member s : open) {
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
    static <T> Completion<T> logFailure(String what) {
        return new Completion<>() {
            @Override
            public void committed(T result) {
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, what + " was not stored: " + error.getMessage());
            }
        };
    }
}
