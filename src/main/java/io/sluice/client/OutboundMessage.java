package io.sluice.client;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/** One message of a {@link SluiceClient#publishBatch batch}: a payload and its attributes. Immutable. */
public final class OutboundMessage {
    private final byte[] payload;
    private final Map<String, String> attributes;

    private OutboundMessage(byte[] payload, Map<String, String> attributes) {
        this.payload = payload.clone();
        this.attributes = Map.copyOf(attributes);
    }

    public static OutboundMessage of(byte[] payload, Map<String, String> attributes) {
        return new OutboundMessage(payload, attributes);
    }

    public static OutboundMessage of(byte[] payload) {
        return new OutboundMessage(payload, Map.of());
    }

    /** A message whose payload is {@code text} in UTF-8. */
    public static OutboundMessage of(String text) {
        return new OutboundMessage(text.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    public byte[] payload() {
        return payload.clone();
    }

    public Map<String, String> attributes() {
        return attributes;
    }

    byte[] payloadUnsafe() {
        return payload;
    }
}
