package io.sluice.server.security;

import io.sluice.proto.GetTopicStatsResponse;
import io.sluice.proto.ListTopicsResponse;

/** Cuts ListTopics and GetTopicStats answers down to the topics a principal holds some grant on. */
final class TopicFilter {
    private TopicFilter() {
    }

    @SuppressWarnings("unchecked")
    static <R> R apply(R message, Principal principal) {
        if (principal.grants() == null) {
            return message;
        }
        if (message instanceof ListTopicsResponse list) {
            var out = list.toBuilder().clearTopics();
            list.getTopicsList().stream().filter(t -> principal.seesTopic(t.getName())).forEach(out::addTopics);
            return (R) out.build();
        }
        if (message instanceof GetTopicStatsResponse stats) {
            var out = stats.toBuilder().clearStats();
            stats.getStatsList().stream().filter(s -> principal.seesTopic(s.getTopic())).forEach(out::addStats);
            return (R) out.build();
        }
        return message;
    }
}
