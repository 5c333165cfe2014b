package io.sluice.store;

/**
 * A consumer group as opened or configured: whether this request created it, its mode and
 * configuration, and its persisted position (see {@link GroupPosition}).
 */
public record GroupSetup(boolean created, GroupMode mode, GroupConfig config, GroupPosition position) {
}
