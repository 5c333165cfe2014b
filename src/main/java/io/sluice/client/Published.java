package io.sluice.client;

/**
 * What the broker answered for a stored message: its id (a UUIDv7), its sequence (one counter across
 * all topics, strictly increasing) and the server time it was stored at, in Unix milliseconds.
 */
public record Published(String id, long sequence, long timestamp) {
}
