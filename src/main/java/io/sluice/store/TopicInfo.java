package io.sluice.store;

/** A topic: its name and creation time (Unix ms). */
public record TopicInfo(String name, long createdAt) {
}
