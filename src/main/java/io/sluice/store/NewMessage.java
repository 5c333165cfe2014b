package io.sluice.store;

import com.google.protobuf.ByteString;
import java.util.Map;

/** A message to store: the payload is passed through as received, never copied before the write. */
public record NewMessage(ByteString payload, Map<String, String> attributes) {
}
