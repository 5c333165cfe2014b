package io.sluice.store;

/**
 * Told by the writer thread what each commit changed, after the commit returned and its callers
 * were completed. Implementations only signal waiting threads; they never block or write.
 */
public interface StoreListener {
    /** Messages up to {@code lastSequence} are now readable in {@code topic}. */
    default void appended(String topic, long lastSequence) {
    }

    /** The topic, its messages and its groups are gone. */
    default void topicDeleted(String topic) {
    }

    /** The group's cursor was set by an operator (reset or delete), not by an ack. */
    default void cursorReset(String topic, String group, long cursor) {
    }

    /**
     * Retention removed {@code removed} of the topic's oldest messages; {@code unconsumed} of them
     * were still after some group's cursor (counted once per group that skips them).
     */
    default void discarded(String topic, long removed, long unconsumed) {
    }

    /** Every write fails from now on, with {@code reason}, until the broker restarts; reads go on. */
    default void refusingWrites(String reason) {
    }

    /**
     * The writer cannot go on (it met an error it cannot recover from, such as running out of
     * memory): every write fails from now on, and the broker should stop and be restarted. Called
     * once, on the writer thread, as it ends.
     */
    default void writerFailed(String reason, Throwable cause) {
    }
}
