package io.sluice.store;

/** The answer of {@link Store#configureTopic}: the configuration now in force and whether the topic was created. */
public record ConfiguredTopic(TopicConfig config, boolean created) {
}
