package io.sluice.store;

/**
 * Opens or configures a consumer group: created with {@code mode}, {@code config} and a cursor from
 * {@code start} when absent; when present, its mode must be {@code mode}, and with {@code replace} its
 * configuration becomes {@code config}. With {@code claim} (an exclusive stream opening the group),
 * the opener also becomes the group's owner: see {@link GroupSetup#claim()}.
 */
public record GroupRequest(String topic, String group, GroupMode mode, GroupConfig config, StartPosition start,
                           boolean replace, boolean claim) {

    /** A request that claims nothing (configuring a group, or a shared stream opening it). */
    public GroupRequest(String topic, String group, GroupMode mode, GroupConfig config, StartPosition start,
                        boolean replace) {
        this(topic, group, mode, config, start, replace, false);
    }
}
