package io.sluice.store;

/** A consumer group's persisted cursor: the last acknowledged sequence in its topic. */
public record GroupCursor(String topic, String group, long cursor) {
}
