package io.sluice.server.security;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/** Making bearer tokens: 32 random bytes, and the auth file entry that holds their SHA-256. */
public final class Tokens {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Tokens() {
    }

    /** A fresh token: {@code sluice_} and 43 base64url characters (256 random bits). */
    public static String generate() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return "sluice_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The hex SHA-256 the auth file keeps instead of the token. */
    public static String sha256Hex(String token) {
        return HexFormat.of().formatHex(Authenticator.sha256(token));
    }

    /** The YAML lines of a token entry with no grants yet, to paste under {@code tokens:}. */
    public static String authFileEntry(String id, String token) {
        if (id == null || id.isBlank() || !id.matches("[A-Za-z0-9._@-]+")) {
            throw new IllegalArgumentException("a token id is 1 or more of [A-Za-z0-9._@-], not '" + id + "'");
        }
        return "  - id: " + id + "\n"
                + "    sha256: " + sha256Hex(token) + "\n"
                + "    publish: []\n"
                + "    subscribe: []\n"
                + "    admin: []\n";
    }
}
