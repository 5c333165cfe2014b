package io.sluice.store;

import java.util.UUID;

/**
 * Where a published message was stored: its id, global sequence and timestamp (Unix ms). {@code
 * duplicate}: the message's dedup id was stored before, within the window, and these are the
 * original message's id, sequence and timestamp; nothing was stored this time.
 */
public record Appended(UUID id, long sequence, long timestamp, boolean duplicate) {

    /** A message stored now. */
    public Appended(UUID id, long sequence, long timestamp) {
        this(id, sequence, timestamp, false);
    }

    /** The same message, answered again for a duplicate publish. */
    public Appended asDuplicate() {
        return new Appended(id, sequence, timestamp, true);
    }
}
