package io.sluice.store;

/**
 * Opens or configures a consumer group: created with {@code mode}, {@code config} and a cursor from
 * {@code start} when absent; when present, its mode must be {@code mode}, and with {@code replace} its
 * configuration becomes {@code config}.
 */
public record GroupRequest(String topic, String group, GroupMode mode, GroupConfig config, StartPosition start,
                           boolean replace) {
}
