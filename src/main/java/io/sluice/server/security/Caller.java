package io.sluice.server.security;

import io.grpc.Context;

/**
 * The authenticated caller of one call, kept in its gRPC {@link Context} so the service can check a
 * topic where it learns it (see {@link Access}). Immutable.
 */
record Caller(Principal principal, String credentialId, String peer, String rpc, AuditLog audit) {
    static final Context.Key<Caller> KEY = Context.key("sluice-caller");

    /** The caller of the call running now, or null outside a call (or when nothing is enforced). */
    static Caller current() {
        return KEY.get();
    }

    /** Writes a denial to the audit log and answers the message for the status. */
    String deny(Action action, String topic, String group, String status) {
        audit.write(entry(topic, group, "deny", status));
        return principalText() + " holds no " + action.key() + " grant on topic " + topic;
    }

    AuditLog.Entry entry(String topic, String group, String decision, String status) {
        return new AuditLog.Entry(principal.id(), principal.kind().key(), credentialId, peer, rpc, topic, group,
                decision, status);
    }

    private String principalText() {
        return switch (principal.kind()) {
            case TOKEN -> "token '" + principal.id() + "'";
            case CERTIFICATE -> "client '" + principal.id() + "'";
            case ANONYMOUS -> "an anonymous caller";
            case UNRESTRICTED -> "the caller";
        };
    }
}
