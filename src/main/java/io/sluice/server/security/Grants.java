package io.sluice.server.security;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** What one principal may do: for each {@link Action}, the topic patterns it is granted on. */
record Grants(Map<Action, List<TopicPattern>> byAction) {
    static final Grants NONE = new Grants(Map.of());

    Grants {
        var copy = new EnumMap<Action, List<TopicPattern>>(Action.class);
        byAction.forEach((a, p) -> copy.put(a, List.copyOf(p)));
        byAction = Map.copyOf(copy);
    }

    boolean allows(Action action, String topic) {
        for (TopicPattern p : byAction.getOrDefault(action, List.of())) {
            if (p.matches(topic)) {
                return true;
            }
        }
        return false;
    }

    /** Some grant, of any action, covers the topic: it may see the topic in ListTopics and GetTopicStats. */
    boolean seesTopic(String topic) {
        for (Action a : Action.values()) {
            if (allows(a, topic)) {
                return true;
            }
        }
        return false;
    }
}
