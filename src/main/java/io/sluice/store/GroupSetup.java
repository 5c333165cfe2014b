package io.sluice.store;

/**
 * A consumer group as opened or configured: whether this request created it, its mode and
 * configuration, its persisted position (see {@link GroupPosition}), and the claim the request took
 * ({@link GroupRequest#claim()}): an epoch greater than every earlier claim of the group, or {@link
 * Store#NO_CLAIM} when none was asked or the store grants none.
 */
public record GroupSetup(boolean created, GroupMode mode, GroupConfig config, GroupPosition position, long claim) {

    /** A setup without a claim. */
    public GroupSetup(boolean created, GroupMode mode, GroupConfig config, GroupPosition position) {
        this(created, mode, config, position, Store.NO_CLAIM);
    }
}
