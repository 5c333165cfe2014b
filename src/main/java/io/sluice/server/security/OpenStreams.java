package io.sluice.server.security;

import io.sluice.domain.SluiceException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The callers of open streams (Subscribe and PublishStream), checked again after every pass of the
 * reloader ({@code --reload-interval}, and at once on SIGHUP): their credentials against the auth
 * file now in force, and a Subscribe stream's topic against the grants they now hold. A token that
 * was removed or has expired revokes the stream UNAUTHENTICATED, a subscribe grant withdrawn revokes
 * it PERMISSION_DENIED (each with its audit line); a PublishStream's later requests are checked
 * against its caller's grants now in force. Calls that end at once (unary) are checked when they start.
 */
final class OpenStreams {
    private final Set<Caller> open = ConcurrentHashMap.newKeySet();
    private final Authenticator authenticator;

    OpenStreams(Authenticator authenticator) {
        this.authenticator = authenticator;
    }

    void opened(Caller caller) {
        open.add(caller);
    }

    void closed(Caller caller) {
        open.remove(caller);
    }

    /** Checks every open stream's caller against the auth file in force now. On the reloader's thread. */
    void recheck() {
        if (!authenticator.enabled()) {
            return;
        }
        for (Caller caller : open) {
            if (caller.revoked() != null) {
                continue;
            }
            Principal now;
            try {
                now = authenticator.authenticate(caller.authorization(), caller.tls());
            } catch (Authenticator.Refused e) {
                caller.audit("deny", "UNAUTHENTICATED");
                caller.revoke(new SluiceException.Unauthenticated(e.getMessage() + " (the auth file was checked again "
                        + "for this open stream)"));
                continue;
            }
            caller.principal(now);
            String topic = caller.streamTopic();
            if (topic != null && !now.allows(Action.SUBSCRIBE, topic)) {
                String message = caller.deny(Action.SUBSCRIBE, topic, caller.group(), "PERMISSION_DENIED");
                caller.revoke(new SluiceException.PermissionDenied(message + " now (the auth file changed); this "
                        + "stream is ended"));   // only Subscribe streams hold a topic: they end
            }
        }
    }

    int size() {
        return open.size();
    }
}
