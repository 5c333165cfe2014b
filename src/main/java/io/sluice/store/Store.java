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
 *       caller; they must be quick and must not block (they may call the methods documented as never blocking).</li>
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
     * No claim: the write is not checked against the group's owner. A store with one broker per
     * store (SQLite) grants only this: the broker's own takeover stops the previous stream's writes
     * before the new stream opens, so one owner is kept without the store.
     */
    long NO_CLAIM = 0;

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
     *       so the topic never holds more than either limit once a commit is visible. Under either
     *       policy an append holding a message larger than max_bytes on its own is refused whole with
     *       {@link TopicConfig#tooLarge}'s {@code TopicFull}.</li>
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
     * Creates an {@link GroupMode#EXCLUSIVE} group (and topic) when absent, its cursor set from {@code
     * start}; answers its position. A group of another mode is refused ({@code FailedPrecondition}).
     * A cursor below the topic's oldest retained message reads on from that message. While the disk
     * is full a new exclusive group is answered its starting cursor without being stored (reads work;
     * its first acknowledgement that can be stored creates it), so consumers can start on a full disk.
     */
    default void openGroup(String topic, String group, StartPosition start, Completion<GroupPosition> done)
            throws InterruptedException {
        openGroup(new GroupRequest(topic, group, GroupMode.EXCLUSIVE, GroupConfig.DEFAULTS, start, false),
                new Completion<>() {
                    @Override
                    public void committed(GroupSetup result) {
                        done.committed(result.position());
                    }

                    @Override
                    public void failed(SluiceException error) {
                        done.failed(error);
                    }
                });
    }

    /**
     * Opens or configures a group as {@link GroupRequest} says (the topic is created when absent). A
     * group's mode is fixed when it is created: a request for the other mode fails with {@link
     * SluiceException.FailedPrecondition} naming both. The configuration is stored with the group and
     * survives restarts; the limit of groups per topic applies to new groups only.
     */
    void openGroup(GroupRequest request, Completion<GroupSetup> done) throws InterruptedException;

    // ---- Delivery counts and settling (both modes). -----------------------------------------------
    //
    // The store is the authority on who holds what: every decision below (which messages a lease
    // gets, whether a settle comes from the holder, when a message is dead-lettered) is made inside
    // the store's transaction that records it, so a backend shared by several brokers never gives one
    // message to two holders, and a count is never answered before it is durable. The state of a group
    // costs storage in proportion to its unsettled span (messages delivered and not yet settled), never
    // to its backlog. A holder names one stream; names are unique across brokers and restarts (the
    // caller makes them so); a lease held by a stream of an earlier run of the store counts as
    // released when the store opens again: its message comes back after its backoff.
    //
    // Dead letters: when a message delivered maxDeliveries times is not settled (its lease expired or
    // was released), or a consumer terminates it, it is settled and, when the group has a dead-letter
    // topic, appended there in the same transaction with the original payload and attributes plus
    // sluice.dlq.topic, .sequence, .message_id, .group, .reason (max_deliveries | rejected),
    // .delivery_count and .detail. Listeners hear of that append like any other. It is never refused for
    // the dead-letter topic's limits (a DISCARD_NEW topic goes over them): what is counted is stored.

    /**
     * SHARED: leases up to {@code max} messages of the group to {@code holder}, in sequence order:
     * first those whose lease expired or whose backoff ended (each counted delivered once more),
     * then messages after the highest ever leased, while the group holds fewer than its {@code
     * maxInFlight} unsettled messages. Each lease lasts {@code ackWaitMs}. The counts are durable
     * when the answer comes, so a message is counted delivered before it is sent. Expired leases of
     * exhausted messages are dead-lettered by this request. Never blocks: the caller keeps at most
     * one request in flight per holder. Fails with FailedPrecondition when the group is not SHARED,
     * NotFound when it does not exist.
     */
    void lease(String topic, String group, String holder, int max, Completion<LeaseBatch> done);

    /**
     * SHARED: as {@link #lease}, except that when the group holds its max in flight and nothing of it
     * is due, the answer may wait (at most about a second) until a settle, release or expiry makes a
     * lease possible, and then come with the commit that made it possible: leases given while a
     * group is full follow its settles without another request. Requests waiting on one group are
     * answered in the order they came. A holder's {@link #releaseAll} answers its waiting request
     * with nothing. By default answered at once, as {@link #lease}.
     */
    default void leaseWhenRoom(String topic, String group, String holder, int max, Completion<LeaseBatch> done) {
        lease(topic, group, holder, max, done);
    }

    /**
     * SHARED: settles exactly the named messages held by {@code holder} (an Ack). Messages the holder
     * does not hold, or that are settled already, are left alone and counted in the answer.
     */
    void settle(String topic, String group, String holder, List<Long> sequences, Completion<Settled> done)
            throws InterruptedException;

    /**
     * SHARED: the holder gives a message back (a Nack): it may be leased again after {@code delayMs},
     * or after its backoff when {@code delayMs} is 0; dead-lettered at once when exhausted. Answers
     * false when the holder did not hold it.
     */
    void release(String topic, String group, String holder, long sequence, long delayMs, Completion<Boolean> done)
            throws InterruptedException;

    /** SHARED: restarts the lease of a message the holder holds (InProgress); false when it does not hold it. */
    void extend(String topic, String group, String holder, long sequence, Completion<Boolean> done)
            throws InterruptedException;

    /**
     * Writes nothing: answers {@code done} once every write queued before it has been committed or has
     * failed (the writer applies writes in the order queued). How a stream learns that the settles it
     * sent are applied (AckSync). Blocks while the writer's queue is full.
     */
    void barrier(Completion<Void> done) throws InterruptedException;

    /**
     * SHARED: the holder's stream ended: every lease it holds is released (each message back after its
     * backoff, or dead-lettered when exhausted). Never blocks; answers how many were released.
     */
    void releaseAll(String topic, String group, String holder, Completion<Integer> done);

    /**
     * Both modes: the consumer terminates a delivered message (Term): it is settled and moved to the
     * dead-letter topic (reason {@code rejected}, {@code detail} kept) when the group has one, and
     * counted as dead-lettered either way. In a SHARED group only the holder may; in an EXCLUSIVE
     * group {@code holder} is ignored and any delivered, unacknowledged message may be terminated,
     * after which it is never delivered again. Answers false when nothing was terminated.
     */
    void terminate(String topic, String group, String holder, long sequence, String detail,
                   Completion<Boolean> done) throws InterruptedException;

    /**
     * EXCLUSIVE: counts a delivery of each of {@code sequences} (increasing, read from the topic after
     * the group's cursor) and answers each count, durable before the answer: 1 for a message never
     * delivered, else one more than before. An exhausted message is dead-lettered instead and a
     * terminated one skipped (count 0): neither blocks the messages after it, and the cursor moves
     * past them once everything before is acknowledged. Never blocks: the caller keeps at most one
     * request in flight per stream.
     */
    void countDeliveries(String topic, String group, List<Long> sequences, Completion<DeliveryCounts> done);

    // ---- Claims (exclusive groups on a store shared by several brokers). ---------------------------
    //
    // An exclusive stream opening its group with GroupRequest#claim becomes the group's owner: the
    // store records an epoch greater than every earlier claim of the group (GroupSetup#claim), and
    // from then on the writes below made with an older claim are refused or ignored, whichever broker
    // makes them, so a stale owner on another broker cannot move the cursor or count deliveries.
    // Listeners hear of other brokers' claims (StoreListener#groupClaimed). A store that grants no
    // claims answers NO_CLAIM and is never asked a claimed write.

    /**
     * As {@link #countDeliveries(String, String, List, Completion)}, by the owner of {@code claim}:
     * fails with {@link SluiceException.TakenOver} (counting nothing) when the group holds a newer claim.
     */
    default void countDeliveries(String topic, String group, long claim, List<Long> sequences,
                                 Completion<DeliveryCounts> done) {
        requireNoClaim(claim);
        countDeliveries(topic, group, sequences, done);
    }

    /**
     * As {@link #ack(String, String, long, Completion)}, by the owner of {@code claim}: the cursor is
     * left where it is when the group holds a newer claim (the ack is answered all the same).
     */
    default void ack(String topic, String group, long claim, long sequence, Completion<Boolean> done)
            throws InterruptedException {
        requireNoClaim(claim);
        ack(topic, group, sequence, done);
    }

    /**
     * As {@link #terminate(String, String, String, long, String, Completion)} in an EXCLUSIVE group, by
     * the owner of {@code claim}: fails with {@link SluiceException.TakenOver} (terminating nothing) when
     * the group holds a newer claim.
     */
    default void terminate(String topic, String group, long claim, long sequence, String detail,
                           Completion<Boolean> done) throws InterruptedException {
        requireNoClaim(claim);
        terminate(topic, group, null, sequence, detail, done);
    }

    /** For a store that grants no claims: a claimed write is a caller's error. */
    private static void requireNoClaim(long claim) {
        if (claim != NO_CLAIM) {
            throw new IllegalArgumentException("claim " + claim + " was not granted by this store: it grants none");
        }
    }

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
