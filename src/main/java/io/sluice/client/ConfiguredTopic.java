package io.sluice.client;

/**
 * The answer of {@link SluiceClient#setTopicSettings}: the settings the broker stored, which may
 * differ from those asked (a dedup window longer than the max age is stored as the max age), and
 * whether the topic was created.
 */
public record ConfiguredTopic(TopicSettings settings, boolean created) {
}
