package io.sluice.server.security;

import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import java.util.function.Consumer;

/**
 * The checks the service makes itself where a topic is known only inside a call: each request of a
 * PublishStream, and a dead-letter topic named in a consumer group's configuration, both needing
 * the {@code publish} grant on the topic; which topics a listing may show; and the end of a stream
 * whose grants are withdrawn. They read the caller from the call's gRPC context (set by
 * {@link AuthInterceptor}); without one (no auth file) everything is allowed. Cheap and non-blocking
 * apart from the audit line of a denial: safe on a transport thread.
 */
public final class Access {
    private Access() {
    }

    /** Throws {@link SluiceException.PermissionDenied} unless the caller may publish to {@code topic}. */
    public static void requirePublish(String topic) {
        require(Action.PUBLISH, topic);
    }

    /**
     * Throws {@link SluiceException.PermissionDenied} unless the caller may name {@code deadLetter} as
     * the dead-letter topic of {@code group} on {@code topic} (the {@code publish} grant: dead letters
     * are published there in its name). A denial is audited under the call's own topic and group.
     */
    public static void requireDeadLetter(String topic, String group, String deadLetter) {
        Caller caller = Caller.current();
        if (caller == null || caller.principal().allows(Action.PUBLISH, deadLetter)) {
            return;
        }
        throw new SluiceException.PermissionDenied(caller.denyDeadLetter(topic, group, deadLetter));
    }

    /**
     * Whether the caller holds some grant on {@code topic}: ListTopics and GetTopicStats show only
     * those, and page over only those, so neither a page nor its token shows a hidden topic.
     */
    public static boolean sees(String topic) {
        Caller caller = Caller.current();
        return caller == null || caller.principal().seesTopic(topic);
    }

    /**
     * Runs {@code end} with the reason when the grants of the caller of the stream running now are
     * withdrawn (its token removed or expired, or its subscribe grant on the stream's topic taken
     * away: {@link OpenStreams}); at once when they already are. Without an auth file, never.
     */
    public static void onRevoked(Consumer<SluiceException> end) {
        Caller caller = Caller.current();
        if (caller != null) {
            caller.onRevoked(end);
        }
    }

    private static void require(Action action, String topic) {
        Caller caller = Caller.current();
        if (caller == null) {
            return;   // nothing enforced: the handler checks the name, once
        }
        Names.topic(topic);   // a name refused anyway is INVALID_ARGUMENT, never echoed into a denial
        SluiceException revoked = caller.revoked();
        if (revoked instanceof SluiceException.Unauthenticated) {
            caller.refused(topic, "UNAUTHENTICATED");   // each request refused is a denial, audited as such
            throw revoked;
        }
        if (caller.principal().allows(action, topic)) {
            return;
        }
        throw new SluiceException.PermissionDenied(caller.deny(action, topic, null, "PERMISSION_DENIED"));
    }
}
