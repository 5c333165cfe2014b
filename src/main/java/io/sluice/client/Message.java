package io.sluice.client;

import com.google.protobuf.ByteString;
import io.sluice.proto.MessageDelivery;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A message delivered to a {@link Subscription}. {@link #deliveryCount()} is 1 on the first delivery
 * to a consumer group and higher when the message comes again (after a reconnect without its ack, or
 * a nack). Immutable; {@link #payload()} returns a copy.
 */
public final class Message {
    private final String id;
    private final long sequence;
    private final long timestamp;
    private final int deliveryCount;
    private final ByteString payload;   // immutable: no copy until the application asks for the bytes
    private final Map<String, String> attributes;
    /** The subscription that received it: only that one may acknowledge it. */
    final Object receivedBy;

    private Message(String id, long sequence, long timestamp, int deliveryCount, ByteString payload,
                    Map<String, String> attributes, Object receivedBy) {
        this.receivedBy = receivedBy;
        this.id = id;
        this.sequence = sequence;
        this.timestamp = timestamp;
        this.deliveryCount = deliveryCount;
        this.payload = payload;
        this.attributes = attributes;
    }

    static Message of(MessageDelivery d, Object receivedBy) {
        return new Message(d.getMessageId(), d.getSequence(), d.getTimestamp(), d.getDeliveryCount(),
                d.getPayload(), d.getAttributesCount() == 0 ? Map.of() : Map.copyOf(d.getAttributesMap()), receivedBy);
    }

    /** The message id (a UUIDv7 chosen by the broker); acks and nacks name it. */
    public String id() {
        return id;
    }

    /** The broker-wide sequence: increasing within a topic, in delivery order. */
    public long sequence() {
        return sequence;
    }

    /** When the broker stored it, in Unix milliseconds. */
    public long timestamp() {
        return timestamp;
    }

    /** How many times this message was delivered to the group, this time included. */
    public int deliveryCount() {
        return deliveryCount;
    }

    /** True when this delivery is not the first. */
    public boolean isRedelivery() {
        return deliveryCount > 1;
    }

    public byte[] payload() {
        return payload.toByteArray();
    }

    /** The payload decoded as UTF-8 (malformed bytes become U+FFFD). */
    public String payloadText() {
        return payload.toString(StandardCharsets.UTF_8);
    }

    public Map<String, String> attributes() {
        return attributes;
    }

    @Override
    public String toString() {
        return "Message[id=" + id + ", sequence=" + sequence + ", deliveryCount=" + deliveryCount
                + ", " + payload.size() + " bytes]";
    }
}
