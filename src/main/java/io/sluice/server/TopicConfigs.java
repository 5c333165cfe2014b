package io.sluice.server;

import io.sluice.domain.SluiceException;
import io.sluice.proto.DiscardPolicy;
import io.sluice.store.TopicConfig;

/** Converts topic configurations between the wire and the store, refusing what the store cannot hold. */
final class TopicConfigs {
    private TopicConfigs() {
    }

    static TopicConfig fromProto(io.sluice.proto.TopicConfig c) {
        TopicConfig.Discard discard = switch (c.getDiscard()) {
            case DISCARD_OLD -> TopicConfig.Discard.OLD;
            case DISCARD_NEW -> TopicConfig.Discard.NEW;
            case UNRECOGNIZED -> throw new SluiceException.InvalidArgument("discard " + c.getDiscardValue()
                    + " is not DISCARD_OLD (0) or DISCARD_NEW (1)");
        };
        long maxAge = limit("max_age_ms", c.getMaxAgeMs());
        long dedupWindow = limit("dedup_window_ms", c.getDedupWindowMs());
        if (maxAge > 0 && dedupWindow > maxAge) {
            dedupWindow = maxAge;   // never longer than the max age (SPEC §7): stored and answered as it applies
        }
        return new TopicConfig(maxAge, limit("max_bytes", c.getMaxBytes()), limit("max_messages", c.getMaxMessages()),
                discard, dedupWindow);
    }

    static io.sluice.proto.TopicConfig toProto(TopicConfig c) {
        return io.sluice.proto.TopicConfig.newBuilder()
                .setMaxAgeMs(c.maxAgeMillis())
                .setMaxBytes(c.maxBytes())
                .setMaxMessages(c.maxMessages())
                .setDiscard(c.discard() == TopicConfig.Discard.NEW ? DiscardPolicy.DISCARD_NEW : DiscardPolicy.DISCARD_OLD)
                .setDedupWindowMs(c.dedupWindowMillis())
                .build();
    }

    /** An unsigned limit from the wire: past the signed range it is refused rather than read negative. */
    private static long limit(String field, long value) {
        if (value < 0) {
            throw new SluiceException.InvalidArgument(field + " " + Long.toUnsignedString(value)
                    + " is too large; the largest is " + Long.MAX_VALUE);
        }
        return value;
    }
}
