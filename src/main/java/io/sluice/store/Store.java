package io.sluice.store;

import java.util.List;
import java.util.OptionalLong;

/**
 * The broker's storage, narrow on purpose so another backend can replace SQLite without touching
 * the gRPC or delivery code. Writes are queued to one writer and committed in groups: each takes a
 * {@link Completion} the writer calls after the commit, and blocks while the queue is full. Reads
 * run on the caller's thread against committed data.
 *
 * <p>Topic and group names reaching the store are already valid ({@link Names}).
 */
public interface Store extends AutoCloseable {

    /** Stores the messages in one topic (created if absent) in one transaction with contiguous sequences. */
    void append(String topic, List<NewMessage> messages, Completion<List<Appended>> done)
            throws InterruptedException;

    /**
     * As {@link #append}, for callers that must not block (a transport thread): queues the messages
     * when the queue has room now and answers true; answers false, having queued nothing, when it is
     * full (the caller then waits with {@link #append} on a thread that may block).
     */
    boolean tryAppend(String topic, List<NewMessage> messages, Completion<List<Appended>> done);

    /**
     * Queues one message without waiting for queue capacity, for callers that bound what they
     * have in flight themselves (a PublishStream's window). Never blocks.
     */
    void appendPaced(String topic, NewMessage message, Completion<List<Appended>> done);

    /** Creates the topic when absent. */
    void ensureTopic(String topic, Completion<TopicInfo> done) throws InterruptedException;

    /** Creates the group (and topic) when absent, its cursor set from {@code start}; answers the cursor. */
    void openGroup(String topic, String group, StartPosition start, Completion<GroupPosition> done)
            throws InterruptedException;

    /**
     * Records that messages up to {@code sequence} were delivered to the group (for delivery counts).
     * Never blocks (callers keep at most one in flight per group); may be called from a completion.
     */
    void markDelivered(String topic, String group, long sequence, Completion<Void> done);

    /** Moves the group's cursor forward to {@code sequence}; answers false when the topic is gone. */
    void ack(String topic, String group, long sequence, Completion<Boolean> done) throws InterruptedException;

    /** Sets the group's cursor to {@code cursor}, creating the group; answers false when the topic does not exist. */
    void resetCursor(String topic, String group, long cursor, Completion<Boolean> done) throws InterruptedException;

    /** Removes the group; answers false when it did not exist. */
    void deleteGroup(String topic, String group, Completion<Boolean> done) throws InterruptedException;

    /** Removes the topic, its messages and groups; answers false when it did not exist. */
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

    /** Operations waiting for the writer. */
    int queueDepth();

    /** Stops accepting writes, commits what is queued, and closes every connection. Idempotent. */
    @Override
    void close();
}
