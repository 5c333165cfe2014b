package io.sluice.client;

import java.time.Duration;

/**
 * A topic's retention and dedup settings for {@link SluiceClient#configureTopic}: zero is no limit
 * (or, for the dedup window, the broker's default). Byte limits count payload plus attribute bytes.
 *
 * @param discardNew at a count or byte limit, refuse new publishes instead of removing the oldest messages
 */
public record TopicSettings(Duration maxAge, long maxBytes, long maxMessages, boolean discardNew,
                            Duration dedupWindow) {

    public TopicSettings {
        if (maxAge == null || maxAge.isNegative() || dedupWindow == null || dedupWindow.isNegative()
                || maxBytes < 0 || maxMessages < 0) {
            throw new IllegalArgumentException("limits are zero (none) or positive");
        }
    }

    /** No limits, oldest messages removed at a limit, the broker's dedup window. */
    public static TopicSettings unlimited() {
        return new TopicSettings(Duration.ZERO, 0, 0, false, Duration.ZERO);
    }

    public TopicSettings withMaxAge(Duration age) {
        return new TopicSettings(age, maxBytes, maxMessages, discardNew, dedupWindow);
    }

    public TopicSettings withMaxBytes(long bytes) {
        return new TopicSettings(maxAge, bytes, maxMessages, discardNew, dedupWindow);
    }

    public TopicSettings withMaxMessages(long messages) {
        return new TopicSettings(maxAge, maxBytes, messages, discardNew, dedupWindow);
    }

    public TopicSettings withDiscardNew(boolean refuseNew) {
        return new TopicSettings(maxAge, maxBytes, maxMessages, refuseNew, dedupWindow);
    }

    public TopicSettings withDedupWindow(Duration window) {
        return new TopicSettings(maxAge, maxBytes, maxMessages, discardNew, window);
    }

    io.sluice.proto.TopicConfig toProto() {
        return io.sluice.proto.TopicConfig.newBuilder()
                .setMaxAgeMs(maxAge.toMillis())
                .setMaxBytes(maxBytes)
                .setMaxMessages(maxMessages)
                .setDiscard(discardNew ? io.sluice.proto.DiscardPolicy.DISCARD_NEW : io.sluice.proto.DiscardPolicy.DISCARD_OLD)
                .setDedupWindowMs(dedupWindow.toMillis())
                .build();
    }

    static TopicSettings fromProto(io.sluice.proto.TopicConfig c) {
        return new TopicSettings(Duration.ofMillis(c.getMaxAgeMs()), c.getMaxBytes(), c.getMaxMessages(),
                c.getDiscard() == io.sluice.proto.DiscardPolicy.DISCARD_NEW, Duration.ofMillis(c.getDedupWindowMs()));
    }
}
