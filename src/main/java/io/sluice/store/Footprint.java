package io.sluice.store;

/** What the stored data occupies now: the data itself and the backend's log (0 when it has none). */
public record Footprint(long dataBytes, long logBytes) {
}
