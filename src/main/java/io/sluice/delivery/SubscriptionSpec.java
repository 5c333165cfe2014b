package io.sluice.delivery;

import io.sluice.store.StartPosition;

/**
 * What a stream asked for in its init: the topic, the group (null in BROWSE mode), where a new
 * group starts, and who the consumer says it is.
 */
public record SubscriptionSpec(String topic, String group, StartPosition start, String consumerId) {

    boolean browse() {
        return group == null;
    }

    GroupKey key() {
        return new GroupKey(topic, group);
    }

    record GroupKey(String topic, String group) {
    }
}
