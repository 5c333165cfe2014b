package io.sluice.server.security;

import io.grpc.Context;
import io.sluice.domain.SluiceException;
import java.util.function.Consumer;
import javax.net.ssl.SSLSession;

/**
 * The authenticated caller of one call, kept in its gRPC {@link Context} so the service can check a
 * topic where it learns it (see {@link Access}). The credentials it called with are kept too: a
 * stream's caller is checked again against each auth file that comes into force and as its token
 * expires ({@link OpenStreams}), so its principal may change, or its stream be revoked.
 */
final class Caller {
    static final Context.Key<Caller> KEY = Context.key("sluice-caller");

    private final String authorization;   // the header as sent, or null
    private final SSLSession tls;         // the connection's TLS session, or null
    private final String credentialId;
    private final String peer;
    private final String rpc;
    private final AuditLog audit;
    private volatile Principal principal;
    private volatile String streamTopic;   // a Subscribe stream's topic and group once its init is checked
    private volatile String streamGroup;
    private SluiceException revoked;        // guarded by this
    private Consumer<SluiceException> onRevoked;   // guarded by this

    Caller(Principal principal, String authorization, SSLSession tls, String credentialId, String peer, String rpc,
           AuditLog audit) {
        this.principal = principal;
        this.authorization = authorization;
        this.tls = tls;
        this.credentialId = credentialId;
        this.peer = peer;
        this.rpc = rpc;
        this.audit = audit;
    }

    /** The caller of the call running now, or null outside a call (or when nothing is enforced). */
    static Caller current() {
        return KEY.get();
    }

    Principal principal() {
        return principal;
    }

    String authorization() {
        return authorization;
    }

    SSLSession tls() {
        return tls;
    }

    String streamTopic() {
        return streamTopic;
    }

    /** A Subscribe stream's topic and group, checked against the grants in force from now on. */
    void subscribed(String topic, String group) {
        this.streamGroup = group;
        this.streamTopic = topic;
    }

    /** The principal the caller's credentials name under the auth file now in force. */
    void principal(Principal now) {
        this.principal = now;
    }

    /**
     * Ends what the caller may do on its stream: its later checks fail with {@code why}, and the
     * stream's handler, told once ({@link #onRevoked}), ends it. The first revocation wins.
     */
    void revoke(SluiceException why) {
        Consumer<SluiceException> tell;
        synchronized (this) {
            if (revoked != null) {
                return;
            }
            revoked = why;
            tell = onRevoked;
        }
        if (tell != null) {
            tell.accept(why);
        }
    }

    /** The revocation, or null while the caller's grants hold. */
    synchronized SluiceException revoked() {
        return revoked;
    }

    /** Runs {@code end} when the caller is revoked (at once if it already is). */
    void onRevoked(Consumer<SluiceException> end) {
        SluiceException already;
        synchronized (this) {
            onRevoked = end;
            already = revoked;
        }
        if (already != null) {
            end.accept(already);
        }
    }

    String group() {
        return streamGroup;
    }

    /** Writes a denial to the audit log and answers the message for the status. */
    String deny(Action action, String topic, String group, String status) {
        audit.write(entry(topic, group, "deny", status));
        return principalText() + " holds no " + action.key() + " grant on topic " + topic;
    }

    /** Writes the denial of naming {@code deadLetter} as the dead-letter topic of {@code group} on {@code topic}. */
    String denyDeadLetter(String topic, String group, String deadLetter) {
        audit.write(entry(topic, group, "deny", "PERMISSION_DENIED"));
        return principalText() + " holds no " + Action.PUBLISH.key() + " grant on topic " + deadLetter + ", named as "
                + "the dead_letter_topic of group " + group
                + " on topic " + topic;
    }

    /** Writes the audit line of a request on {@code topic} refused with {@code status}. */
    void refused(String topic, String status) {
        audit.write(entry(topic, null, "deny", status));
    }

    /** Writes the audit line of a decision on the caller's stream. */
    void audit(String decision, String status) {
        audit.write(entry(streamTopic, streamGroup, decision, status));
    }

    AuditLog.Entry entry(String topic, String group, String decision, String status) {
        Principal p = principal;
        return new AuditLog.Entry(p.id(), p.kind().key(), credentialId, peer, rpc, topic, group, decision, status);
    }

    private String principalText() {
        Principal p = principal;
        return switch (p.kind()) {
            case TOKEN -> "token '" + p.id() + "'";
            case CERTIFICATE -> "client '" + p.id() + "'";
            case ANONYMOUS -> "an anonymous caller";
            case UNRESTRICTED -> "the caller";
        };
    }
}
