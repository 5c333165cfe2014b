package io.sluice.store;

import com.google.protobuf.ByteString;
import java.util.List;
import java.util.Map;

/** Small helpers of the store tests: messages to append, and what was read back. */
public final class Stored {
    private Stored() {
    }

    public static NewMessage message(String payload) {
        return new NewMessage(ByteString.copyFromUtf8(payload), Map.of());
    }

    public static NewMessage message(String payload, Map<String, String> attributes) {
        return new NewMessage(ByteString.copyFromUtf8(payload), attributes);
    }

    public static NewMessage message(ByteString payload, Map<String, String> attributes) {
        return new NewMessage(payload, attributes);
    }

    /** Appends the messages in one write, waiting for room, and answers what was stored. */
    public static List<Appended> append(Store store, String topic, NewMessage... messages) {
        var o = new Outcome<List<Appended>>();
        store.append(topic, List.of(messages), WhenFull.WAIT, o);
        return o.value();
    }

    public static List<Long> sequences(List<StoredMessage> messages) {
        return messages.stream().map(StoredMessage::sequence).toList();
    }

    public static List<String> payloads(List<StoredMessage> messages) {
        return messages.stream().map(m -> m.payload().toStringUtf8()).toList();
    }
}
