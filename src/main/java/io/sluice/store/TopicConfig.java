package io.sluice.store;

import io.sluice.domain.SluiceException;

/**
 * A topic's retention and dedup settings. Zero means no limit ({@code maxAgeMillis}, {@code
 * maxBytes}, {@code maxMessages}) or the server's default ({@code dedupWindowMillis}). Byte limits
 * count payload plus attribute bytes.
 */
public record TopicConfig(long maxAgeMillis, long maxBytes, long maxMessages, Discard discard,
                          long dedupWindowMillis) {

    /** What a topic at a count or byte limit does with a new message. */
    public enum Discard {
        /** Removes the oldest messages to make room (and by age). */
        OLD,
        /** Refuses the new message (RESOURCE_EXHAUSTED); age still removes the oldest. */
        NEW
    }

    public TopicConfig {
        if (maxAgeMillis < 0 || maxBytes < 0 || maxMessages < 0 || dedupWindowMillis < 0) {
            throw new IllegalArgumentException("limits are 0 (none) or positive");
        }
        if (discard == null) {
            throw new IllegalArgumentException("a discard policy is required");
        }
    }

    /** No limits, DISCARD_OLD, the server's dedup window. */
    public static TopicConfig unlimited() {
        return new TopicConfig(0, 0, 0, Discard.OLD, 0);
    }

    /** True when any count, byte or age limit is set. */
    public boolean limited() {
        return maxAgeMillis > 0 || maxBytes > 0 || maxMessages > 0;
    }

    /**
     * The dedup window in force: this topic's, or {@code serverDefault} when 0; never longer than
     * the topic's max age (a message's dedup id is not kept longer than the message).
     */
    public long dedupWindow(long serverDefault) {
        long window = dedupWindowMillis > 0 ? dedupWindowMillis : serverDefault;
        return maxAgeMillis > 0 ? Math.min(window, maxAgeMillis) : window;
    }

    /**
     * The refusal of a message of {@code bytes} in {@code topic} when it is larger than the byte limit
     * on its own (it could never be retained: DISCARD_OLD would remove it in the commit that stores
     * it); null when it is not. Every backend refuses such a message, whatever the policy.
     */
    public SluiceException.TopicFull tooLarge(String topic, long bytes) {
        return maxBytes > 0 && bytes > maxBytes ? new SluiceException.TopicFull("topic " + topic
                + " cannot hold a message of " + bytes + " bytes: max_bytes=" + maxBytes) : null;
    }
}
