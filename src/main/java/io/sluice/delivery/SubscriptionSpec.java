package io.sluice.delivery;

import io.sluice.store.GroupConfig;
import io.sluice.store.StartPosition;

/**
 * What a stream asked for in its init: the topic, the group (null in BROWSE mode), whether the group
 * is shared (competing consumers), where a new group starts, the configuration a new group is
 * created with, and who the consumer says it is.
 */
public record SubscriptionSpec(String topic, String group, StartPosition start, String consumerId, boolean shared,
                               GroupConfig config) {

    /** An exclusive group (or BROWSE when {@code group} is null) with the default configuration. */
    public SubscriptionSpec(String topic, String group, StartPosition start, String consumerId) {
        this(topic, group, start, consumerId, false, GroupConfig.DEFAULTS);
    }

    boolean browse() {
        return group == null;
    }

    GroupKey key() {
        return new GroupKey(topic, group);
    }

    record GroupKey(String topic, String group) {
    }
}
