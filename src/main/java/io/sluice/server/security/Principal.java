package io.sluice.server.security;

/**
 * Who makes a call: the credential it was recognised by, the principal's name (a token's id, a
 * certificate's matched name, or {@code anonymous}) and its grants. {@code grants == null} means
 * unrestricted: the broker runs without an auth file.
 */
public record Principal(Kind kind, String id, Grants grants) {

    /** How a caller was recognised. */
    public enum Kind {
        TOKEN, CERTIFICATE, ANONYMOUS, UNRESTRICTED;

        String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    static final Principal UNRESTRICTED = new Principal(Kind.UNRESTRICTED, "", null);

    boolean allows(Action action, String topic) {
        return grants == null || grants.allows(action, topic);
    }

    boolean seesTopic(String topic) {
        return grants == null || grants.seesTopic(topic);
    }
}
