package io.sluice.store;

import com.google.protobuf.ByteString;
import java.util.List;
import java.util.Map;

/**
 * A message to store: the payload is passed through as received, never copied before the write.
 * {@code dedupId} (null = none) makes the publish idempotent within the topic's dedup window: see
 * {@link Store#append(String, List, java.util.OptionalLong, WhenFull, Completion)}.
 */
public record NewMessage(ByteString payload, Map<String, String> attributes, String dedupId) {

    /** A message without a dedup id. */
    public NewMessage(ByteString payload, Map<String, String> attributes) {
        this(payload, attributes, null);
    }

    /** What the message counts against a topic's byte limit: its payload and attribute bytes. */
    public long size() {
        return payload.size() + io.sluice.domain.Attributes.size(attributes);
    }
}
