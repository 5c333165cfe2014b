package io.sluice.store.postgres;

import java.util.concurrent.ConcurrentHashMap;

/**
 * For each exclusive group claimed through this broker: the latest cursor reset its stream here has
 * been told of, so that the stream's acks cannot undo a reset it has not heard of yet. A reset made
 * through another broker commits there before this broker hears of it (its notification, or the
 * poll); an ack the stream here handled meanwhile is of a message delivered before the reset, and
 * stored after it, it would move the cursor past messages the replay has not sent yet. So each ack
 * under a claim carries the reset epoch its stream had been told of when the ack was made (its
 * fence), and moves the cursor only while the group has no newer reset ({@link PgCursors#ackTo}).
 * An ack the stream makes after hearing of the reset is of a message the replay delivered (the
 * stream ignores the others), and carries the new fence.
 *
 * <p>The writer records each claim it grants, with the group's reset epoch at the claim; the fence
 * moves after the listeners (the stream) have been told of a reset, never before, so an ack made
 * before the stream repositioned always carries the old one (one made in between, after the
 * reposition, is ignored too: the next cumulative ack covers it). Any thread.
 */
final class PgResetFences {
    /** No fence: an ack under a claim not recorded here is checked against newer claims only. */
    static final long NONE = Long.MAX_VALUE;

    private record Fence(long claim, long resetEpoch) {
    }

    /** By "topic group": this broker's latest claim of the group and the reset its stream was told of. */
    private final ConcurrentHashMap<String, Fence> fences = new ConcurrentHashMap<>();

    private static String key(String topic, String group) {
        return topic + " " + group;
    }

    /** The writer granted {@code claim} of the group, whose latest reset then had {@code resetEpoch}. */
    void granted(String topic, String group, long claim, long resetEpoch) {
        fences.merge(key(topic, group), new Fence(claim, resetEpoch),
                (before, now) -> now.claim() > before.claim() ? now : before);
    }

    /** The listeners have been told of the group's reset of {@code resetEpoch}. */
    void told(String topic, String group, long resetEpoch) {
        fences.computeIfPresent(key(topic, group),
                (k, f) -> resetEpoch > f.resetEpoch() ? new Fence(f.claim(), resetEpoch) : f);
    }

    /** The fence of an ack made now under {@code claim}: {@link #NONE} for a claim not recorded here. */
    long fence(String topic, String group, long claim) {
        Fence f = fences.get(key(topic, group));
        return f != null && f.claim() == claim ? f.resetEpoch() : NONE;
    }

    /** The group was deleted. */
    void groupDeleted(String topic, String group) {
        fences.remove(key(topic, group));
    }

    /** The topic was deleted, and its groups with it. */
    void topicDeleted(String topic) {
        String prefix = topic + " ";
        fences.keySet().removeIf(k -> k.startsWith(prefix));
    }
}
