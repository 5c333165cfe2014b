package io.sluice.store;

import com.google.protobuf.ByteString;
import java.util.Map;
import java.util.UUID;

/** A message as read back, its checksum verified. */
public record StoredMessage(long sequence, UUID id, long timestamp, ByteString payload,
                            Map<String, String> attributes) {
}
