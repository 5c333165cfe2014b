package io.sluice.client;

/** A topic as {@link SluiceClient#topics()} lists it: its name and when it was created (Unix ms). */
public record TopicInfo(String name, long createdAt) {
}
