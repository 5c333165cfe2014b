package io.sluice.store;

/**
 * How a consumer group is consumed, fixed when the group is created: {@link #EXCLUSIVE} (one active
 * stream, a cumulative cursor) or {@link #SHARED} (any number of streams, each message leased to one
 * stream at a time and settled on its own).
 */
public enum GroupMode {
    EXCLUSIVE,
    SHARED
}
