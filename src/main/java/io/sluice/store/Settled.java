package io.sluice.store;

/**
 * The outcome of a settle request: how many of the named messages it settled, how many were not
 * held by the caller (a lease that expired or moved to another stream: ignored), and how many were
 * already settled or never delivered to the group (ignored).
 */
public record Settled(int settled, int notHeld, int unknown) {
}
