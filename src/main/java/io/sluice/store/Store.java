package io.sluice.store;

import io.sluice.domain.SluiceException;
import java.util.List;
import java.util.OptionalLong;

/**
 * The broker's storage port: topics, messages, consumer groups and commits, and nothing of how a
 * backend keeps them. Every backend lives in its own package, is opened by {@link Stores}, and
 * passes the backend-agnostic contract suite. What every backend must honour:
 *
 * <ul>
 *   <li><b>Ordering.</b> Within a topic, sequences start at 1, are contiguous in what one append
 *       stores, and become visible to readers in increasing order with no gaps left to fill later:
 *       a reader that has seen sequence n never later finds a new message below n. Message
 *       timestamps never go backwards within a topic.</li>
 *   <li><b>Durability before answers.</b> A write's {@link Completion} is told {@code committed}
 *       only after the write is durable (committed and flushed as the backend promises); it is
 *       never told before, and a write that failed is never visible. Every accepted write's
 *       completion is told exactly once, also when the store closes or fails.</li>
 *   <li><b>Atomicity.</b> One append is one transaction: all of its messages are stored or none.</li>
 *   <li><b>Completions</b> run on a thread of the backend, in commit order for writes of one
 *       caller; they must be quick and must not block (they may call {@link #markDelivered}).</li>
 *   <li><b>Errors</b> are {@link SluiceException}s: {@code Unavailable} or {@code DiskFull} when
 *       writes cannot be accepted now, {@code StorageFailure} when the backend failed, {@code
 *       Corrupted} for data that cannot be read back intact. A backend that cannot go on tells its
 *       listeners ({@link StoreListener#writerFailed}) and refuses every later write.</li>
 *   <li><b>Bounds.</b> The writes waiting to commit are bounded ({@link StoreOptions#writeQueue()});
 *       what a caller may do while they are full is its {@link WhenFull}.</li>
 *   <li><b>Reads</b> see committed data only and may run concurrently with writes; they may block
 *       the calling thread, which must not be a transport thread.</li>
 * </ul>
 *
 * <p><b>Retention</b> ({@link TopicConfig}) removes the oldest messages of a topic in chunks
 * between (or inside) commits, never stalling writers for long; the sequences, the last sequence
 * and the timestamps of what remains are unchanged. Stats are kept counters and index lookups, never
 * counts over rows.
 *
 * <p>Topic and group names reaching the store are already valid ({@link io.sluice.domain.Names}).
 */
public interface Store extends AutoCloseable {

    /**
     * Stores the messages in one topic (created if absent) in one transaction with contiguous
     * sequences. Answers false only with {@link WhenFull#DECLINE} when there was no room, having
     * queued nothing; blocks only with {@link WhenFull#WAIT}, and a wait that is interrupted throws
     * {@link SluiceException.Unavailable} with the thread's interrupt status set again.
     */
    default boolean append(String topic, List<NewMessage> messages, WhenFull whenFull,
                           Completion<List<Appended>> done) {
        return append(topic, messages, OptionalLong.empty(), whenFull, done);
    }

    /**
     * As {@link #append(String, List, WhenFull, Completion)}, with the publish guarantees and the
     * topic's limits, all decided inside the transaction that stores the messages (so they are
     * exact within one group commit and across a crash):
     *
     * <ul>
     *   <li><b>Dedup.</b> A message whose {@link NewMessage#dedupId()} was stored in the topic within
     *       its dedup window ({@link TopicConfig#dedupWindow}, counted from the original's timestamp)
     *       stores nothing and is answered with the original's id, sequence and timestamp, {@link
     *       Appended#duplicate()} true; also when the original was stored earlier in the same append
     *       or the same commit, and when the original was since removed by retention. A dedup id is
     *       kept in the same transaction as its message and forgotten after the window.</li>
     *   <li><b>Expectation.</b> With {@code expectedLastSequence}, the append is stored only if the
     *       topic's last sequence (0 for a topic that never held a message; kept when retention
     *       empties it) equals it, checked once before the first message; else {@link
     *       SluiceException.FailedPrecondition} {@code topic T: expected last sequence X, but it is Y}.
     *       An append whose every message is a duplicate is answered without the check.</li>
     *   <li><b>Limits.</b> Under {@link TopicConfig.Discard#NEW}, an append that would take the topic
     *       past max_messages or max_bytes is refused whole with {@link SluiceException.TopicFull}
     *       {@code topic T is full: max_messages=N (discard policy NEW)} (or {@code max_bytes=N}).
     *       Under {@link TopicConfig.Discard#OLD} the oldest messages are removed in the same commit
     *       so the topic never holds more than either limit once a commit is visible.</li>
     * </ul>
     * Duplicates are answered before the expectation and the limits: a duplicate answers OK even
     * when the topic is full or the expectation is stale.
     */
    boolean append(String topic, List<NewMessage> messages, OptionalLong expectedLastSequence, WhenFull whenFull,
                   Completion<List<Appended>> done);

    /**
     * Creates the topic with {@code config}, or replaces the configuration of an existing one;
     * answers the configuration in force and whether the topic was created. Lowering a limit
     * removes what is now over it in chunks over the following commits (never all at once).
     * Topics created otherwise (by a publish or a subscribe) take {@link StoreOptions#topicDefaults()}.
     */
    void configureTopic(String topic, TopicConfig config, Completion<ConfiguredTopic> done)
            throws InterruptedException;

    /**
     * The cursor just before the topic's first retained message stamped at or after {@code
     * timestampMillis} (delivery after it starts there): the topic's last sequence when there is
     * none, 0 for an unknown topic. Found through an index, never a scan of the topic.
     */
    long cursorAtTime(String topic, long timestampMillis);

    /**
     * Creates the topic when absent. While the disk is full an absent topic is answered without
     * being created (a browser of it then waits for its first message).
     */
    void ensureTopic(String topic, Completion<TopicInfo> done) throws InterruptedException;

    /**
     * Creates the group (and topic) when absent, its cursor set from {@code start}; answers the cursor.
     * A cursor below the topic's oldest retained message reads on from that message. While the disk
     * is full a new group is answered its starting cursor without being stored (reads work; its
     * first acknowledgement that can be stored creates it), so consumers can start on a full disk.
     */
    void openGroup(String topic, String group, StartPosition start, Completion<GroupPosition> done)
            throws InterruptedException;

    /**
     * Records that messages up to {@code sequence} were delivered to the group (for delivery counts).
     * Never blocks, whatever the queue holds: the caller bounds how many it has outstanding. May be
     * called from a completion.
     */
    void markDelivered(String topic, String group, long sequence, Completion<Void> done);

    /** Moves the group's cursor forward to {@code sequence}; answers false when the topic is gone. */
    void ack(String topic, String group, long sequence, Completion<Boolean> done) throws InterruptedException;

    /** Sets the group's cursor to {@code cursor}, creating the group; answers false when the topic does not exist. */
    void resetCursor(String topic, String group, long cursor, Completion<Boolean> done) throws InterruptedException;

    /** Removes the group; answers false when it did not exist. */
    void deleteGroup(String topic, String group, Completion<Boolean> done) throws InterruptedException;

    /**
     * Removes the topic, its messages and groups; answers false when it did not exist. The topic is
     * gone for readers and writers at the commit; its space may be reclaimed later.
     */
    void deleteTopic(String topic, Completion<Boolean> done) throws InterruptedException;

    /**
     * Up to {@code limit} messages of the topic after sequence {@code after}, in order, stopping
     * once {@code maxBytes} of payload are read (always at least one); empty for an unknown topic.
     * A damaged message ends the answer: the intact messages before it are answered, and a read
     * starting at it throws {@link SluiceException.Corrupted} naming it. Never an altered message.
     */
    List<StoredMessage> read(String topic, long after, int limit, long maxBytes);

    /** Up to {@code limit} messages of the topic after sequence {@code after}, whatever their size. */
    default List<StoredMessage> read(String topic, long after, int limit) {
        return read(topic, after, limit, Long.MAX_VALUE);
    }

    /** The sequence of the message with this id in this topic, or empty when there is none. */
    OptionalLong resolve(String topic, String messageId);

    /** The last committed sequence in the topic (0 when empty or unknown). */
    long lastSequence(String topic);

    /** True when the topic exists. */
    boolean exists(String topic);

    /** All topics, ordered by name. */
    List<TopicInfo> topics();

    /** Stats of the named topics (all when empty), ordered by name; unknown names are skipped. */
    List<TopicStats> stats(List<String> topics);

    /** Every consumer group's persisted cursor. */
    List<GroupCursor> groupCursors();

    /** Registers who is told what each commit changed. Call before the first write. */
    void listen(StoreListener listener);

    /** Writes accepted and not yet committed (a gauge). */
    int pendingWrites();

    /** What the stored data occupies now (a gauge). */
    Footprint footprint();

    /** Stops accepting writes, commits what is queued, and closes everything it holds. Idempotent. */
    @Override
    void close();
}
