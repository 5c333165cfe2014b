package io.sluice.server.security;

import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.ConfigureConsumerGroupRequest;
import io.sluice.proto.ConfigureTopicRequest;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeUpstream;
import java.util.Map;
import java.util.function.Function;

/**
 * The action table: which grant each RPC of {@code sluice.v1.Sluice} needs, and where its topic is.
 * A method missing here is refused with PERMISSION_DENIED whenever an auth file is in force, so a new
 * RPC is closed until it gets its line (ConfigureTopic will be ADMIN, topic from the request; a
 * dead-letter topic named in a group's configuration is checked through {@link Access#requireDeadLetter}).
 */
final class Rpcs {
    /** How a call is authorized. */
    enum Check {
        /** The first request names the topic; checked before the handler sees it. */
        FIRST_REQUEST,
        /** Each request names its topic; the handler checks each one through {@link Access}. */
        EACH_REQUEST,
        /**
         * Any authenticated caller; the service lists only the topics the caller may see (before it
         * pages them, so a page token never passes a hidden topic): {@link Access#sees}.
         */
        FILTERED
    }

    /**
     * One RPC's rule: the action it needs, how it is checked, and how to find its topic and group in
     * a request (null when the request does not say, or is not of the RPC's type).
     */
    record Rule(Action action, Check check, Function<Object, String> topic, Function<Object, String> group) {
        boolean audited() {
            return action == Action.ADMIN;
        }
    }

    private static final Function<Object, String> NONE = m -> null;

    private static final Map<String, Rule> RULES = Map.ofEntries(
            Map.entry(SluiceGrpc.getPublishMethod().getFullMethodName(), new Rule(Action.PUBLISH, Check.FIRST_REQUEST,
                    m -> m instanceof PublishRequest r ? r.getTopic() : null, NONE)),
            Map.entry(SluiceGrpc.getBatchPublishMethod().getFullMethodName(), new Rule(Action.PUBLISH,
                    Check.FIRST_REQUEST, m -> m instanceof BatchPublishRequest r ? r.getTopic() : null, NONE)),
            Map.entry(SluiceGrpc.getPublishStreamMethod().getFullMethodName(),
                    new Rule(Action.PUBLISH, Check.EACH_REQUEST, NONE, NONE)),
            Map.entry(SluiceGrpc.getSubscribeMethod().getFullMethodName(), new Rule(Action.SUBSCRIBE,
                    Check.FIRST_REQUEST,
                    m -> m instanceof SubscribeUpstream u && u.hasInit() ? u.getInit().getTopic() : null,
                    m -> m instanceof SubscribeUpstream u && u.hasInit() ? u.getInit().getConsumerGroup() : null)),
            Map.entry(SluiceGrpc.getListTopicsMethod().getFullMethodName(), new Rule(null, Check.FILTERED, NONE, NONE)),
            Map.entry(SluiceGrpc.getGetTopicStatsMethod().getFullMethodName(),
                    new Rule(null, Check.FILTERED, NONE, NONE)),
            Map.entry(SluiceGrpc.getDeleteTopicMethod().getFullMethodName(), new Rule(Action.ADMIN, Check.FIRST_REQUEST,
                    m -> m instanceof DeleteTopicRequest r ? r.getTopic() : null, NONE)),
            Map.entry(SluiceGrpc.getDeleteConsumerGroupMethod().getFullMethodName(), new Rule(Action.ADMIN,
                    Check.FIRST_REQUEST, m -> m instanceof DeleteConsumerGroupRequest r ? r.getTopic() : null,
                    m -> m instanceof DeleteConsumerGroupRequest r ? r.getConsumerGroup() : null)),
            Map.entry(SluiceGrpc.getResetCursorMethod().getFullMethodName(), new Rule(Action.ADMIN, Check.FIRST_REQUEST,
                    m -> m instanceof ResetCursorRequest r ? r.getTopic() : null,
                    m -> m instanceof ResetCursorRequest r ? r.getConsumerGroup() : null)),
            Map.entry(SluiceGrpc.getConfigureTopicMethod().getFullMethodName(), new Rule(Action.ADMIN,
                    Check.FIRST_REQUEST, m -> m instanceof ConfigureTopicRequest r ? r.getTopic() : null, NONE)),
            // The dead-letter topic a configuration names is checked in the handler (Access.requireDeadLetter).
            Map.entry(SluiceGrpc.getConfigureConsumerGroupMethod().getFullMethodName(), new Rule(Action.ADMIN,
                    Check.FIRST_REQUEST, m -> m instanceof ConfigureConsumerGroupRequest r ? r.getTopic() : null,
                    m -> m instanceof ConfigureConsumerGroupRequest r ? r.getConsumerGroup() : null)));

    private Rpcs() {
    }

    /** The rule of a method, by its full name; null when it has none. */
    static Rule of(String fullMethodName) {
        return RULES.get(fullMethodName);
    }

    /** The short name used in the audit log and in messages ({@code Publish}, not {@code sluice.v1.Sluice/Publish}). */
    static String shortName(String fullMethodName) {
        return fullMethodName.substring(fullMethodName.lastIndexOf('/') + 1);
    }
}
