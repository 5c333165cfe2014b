package io.sluice.store;

/**
 * Told by the writer thread what each commit changed, after the commit returned and its callers
 * were completed; a store shared by several brokers also tells what the others' commits changed
 * (deletions, appends, cursor resets, claims), on a thread of its own. Implementations only signal
 * waiting threads; they never block or write.
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
     * A stream of the exclusive group claimed it with epoch {@code claim} through another broker on
     * the same database (or this broker's poll found it): a stream here holding an older claim is
     * taken over. Told at least once per claim, possibly late or twice; never for this broker's own.
     */
    default void groupClaimed(String topic, String group, long claim) {
    }

    /**
     * Another broker settled ({@code released} false) or released ({@code released} true) leases of
     * the shared group: this broker's streams of the group may lease again. Told once per transaction
     * of the other broker, never per message; a missed one is made up for by the next poll
     * ({@link #sharedGroupsMayHaveChanged}).
     */
    default void sharedGroupChanged(String topic, String group, boolean released) {
    }

    /**
     * Other brokers' settles and releases of shared groups may have gone untold (a notification was
     * missed, or was too long to carry them): every stream waiting for room in a shared group asks
     * again. Told by each poll of a store shared by several brokers, so a missed one costs a wait of
     * about the poll's period rather than the group's ack wait.
     */
    default void sharedGroupsMayHaveChanged() {
    }

    /**
     * A store run of another broker on the same database went away (stopped, or silent long enough to
     * count as gone: killed or cut off): the leases it held in shared groups count as released, so
     * every shared stream here asks again, not only those waiting for room. Told by the poll that
     * finds it.
     */
    default void otherRunGone() {
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
