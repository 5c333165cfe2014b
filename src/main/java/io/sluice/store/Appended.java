package io.sluice.store;

import java.util.UUID;

/** Where a published message was stored: its id, global sequence and timestamp (Unix ms). */
public record Appended(UUID id, long sequence, long timestamp) {
}
