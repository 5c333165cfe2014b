package io.sluice.store;

import java.util.function.LongSupplier;

/**
 * Settings every backend honours. {@code writeQueue} bounds the writes waiting to commit (the bytes
 * they hold are bounded by the server's memory budget); {@code maxBatch} bounds the writes of one
 * transaction; {@code readers} is the number of concurrent reads; {@code maxGroupsPerTopic} bounds
 * the consumer groups of one topic (each is a row kept until deleted, and one entry of the topic's
 * stats). Three seams exist for tests and stay at their defaults in production: {@code
 * maxDatabaseBytes} (0 = no cap of the store's own; a cap makes a full disk reproducible), {@code
 * beforeCommit} (null: none, see {@link CommitHook}) and {@code clock}, the wall clock messages
 * are stamped with.
 */
public record StoreOptions(int writeQueue, int maxBatch, int readers, long maxDatabaseBytes,
                           CommitHook beforeCommit, LongSupplier clock, int maxGroupsPerTopic,
                           TopicConfig topicDefaults, long dedupWindowMillis, int maxTopics) {
    public static final int DEFAULT_MAX_GROUPS_PER_TOPIC = 10_000;
    /** How long a dedup id is remembered when neither the topic nor the server says (2 minutes). */
    public static final long DEFAULT_DEDUP_WINDOW_MILLIS = 120_000;

    public StoreOptions {
        if (writeQueue < 1) {
            throw new IllegalArgumentException("the write queue must hold at least 1 operation, not " + writeQueue);
        }
        if (maxBatch < 1) {
            throw new IllegalArgumentException("a transaction must hold at least 1 write, not " + maxBatch);
        }
        if (readers < 1) {
            throw new IllegalArgumentException("at least 1 reader is needed, not " + readers);
        }
        if (maxGroupsPerTopic < 1) {
            throw new IllegalArgumentException("max groups per topic must be positive, not " + maxGroupsPerTopic);
        }
        if (topicDefaults == null) {
            throw new IllegalArgumentException("the defaults of new topics are required");
        }
        if (maxTopics < 1) {
            throw new IllegalArgumentException("max topics must be positive, not " + maxTopics);
        }
        if (dedupWindowMillis < 1) {
            throw new IllegalArgumentException("the dedup window must be positive, not " + dedupWindowMillis + " ms");
        }
    }

    public static StoreOptions defaults() {
        return new StoreOptions(8192, 4096, 4, 0, null, System::currentTimeMillis, DEFAULT_MAX_GROUPS_PER_TOPIC,
                TopicConfig.unlimited(), DEFAULT_DEDUP_WINDOW_MILLIS, defaultMaxTopics());
    }

    /**
     * Topics a broker (or, on PostgreSQL, its database) holds at most unless told: one per 4 KiB of the
     * heap, at least 1,000 (32,768 with {@code -Xmx128m}). Each topic costs the broker about 1.2 KB of
     * heap while it exists.
     */
    public static int defaultMaxTopics() {
        return (int) Math.max(1_000, Math.min(Integer.MAX_VALUE, Runtime.getRuntime().maxMemory() / 4096));
    }

    /** At most {@code topics} topics; creating one more is refused. */
    public StoreOptions withMaxTopics(int topics) {
        return new StoreOptions(writeQueue, maxBatch, readers, maxDatabaseBytes, beforeCommit, clock, maxGroupsPerTopic,
                topicDefaults, dedupWindowMillis, topics);
    }

    /** At most {@code groups} consumer groups on one topic. */
    public StoreOptions withMaxGroupsPerTopic(int groups) {
        return new StoreOptions(writeQueue, maxBatch, readers, maxDatabaseBytes, beforeCommit, clock, groups, topicDefaults, dedupWindowMillis, maxTopics);
    }

    /** At most {@code writes} operations waiting to commit. */
    public StoreOptions withWriteQueue(int writes) {
        return new StoreOptions(writes, maxBatch, readers, maxDatabaseBytes, beforeCommit, clock, maxGroupsPerTopic, topicDefaults, dedupWindowMillis, maxTopics);
    }

    /** At most {@code writes} operations per transaction. */
    public StoreOptions withMaxBatch(int writes) {
        return new StoreOptions(writeQueue, writes, readers, maxDatabaseBytes, beforeCommit, clock, maxGroupsPerTopic, topicDefaults, dedupWindowMillis, maxTopics);
    }

    /** Test seam: the store refuses to grow past about {@code bytes}, as a full disk would. */
    public StoreOptions withMaxDatabaseBytes(long bytes) {
        return new StoreOptions(writeQueue, maxBatch, readers, bytes, beforeCommit, clock, maxGroupsPerTopic, topicDefaults, dedupWindowMillis, maxTopics);
    }

    /** Test seam: {@code hook} runs before every commit and may fail it (see {@link CommitHook}). */
    public StoreOptions withBeforeCommit(CommitHook hook) {
        return new StoreOptions(writeQueue, maxBatch, readers, maxDatabaseBytes, hook, clock, maxGroupsPerTopic, topicDefaults, dedupWindowMillis, maxTopics);
    }

    /** Test seam: the wall clock (Unix ms) the backend stamps messages with, read once per transaction. */
    public StoreOptions withClock(LongSupplier wallClockMillis) {
        return new StoreOptions(writeQueue, maxBatch, readers, maxDatabaseBytes, beforeCommit, wallClockMillis,
                maxGroupsPerTopic, topicDefaults, dedupWindowMillis, maxTopics);
    }

    /** The configuration topics get when a publish or subscribe creates them (not ConfigureTopic). */
    public StoreOptions withTopicDefaults(TopicConfig defaults) {
        return new StoreOptions(writeQueue, maxBatch, readers, maxDatabaseBytes, beforeCommit, clock,
                maxGroupsPerTopic, defaults, dedupWindowMillis, maxTopics);
    }

    /** The dedup window of topics that do not set their own. */
    public StoreOptions withDedupWindow(long millis) {
        return new StoreOptions(writeQueue, maxBatch, readers, maxDatabaseBytes, beforeCommit, clock,
                maxGroupsPerTopic, topicDefaults, millis, maxTopics);
    }
}
