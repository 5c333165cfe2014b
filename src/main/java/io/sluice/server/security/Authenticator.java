package io.sluice.server.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Finds the principal of a call from its {@code authorization: Bearer} header or its verified client
 * certificate, against the current auth file. A token is hashed with SHA-256 and compared with every
 * entry in constant time (no early exit), so the time taken tells nothing about which bytes matched.
 * Thread-safe: the auth file is swapped whole by {@link #use}, read once per call.
 */
final class Authenticator {
    /** A refused credential; the message names the problem and never the credential. */
    static final class Refused extends Exception {
        /** The principal the credential names when it is known but not valid now (an expired token), else "". */
        final String principal;

        Refused(String message) {
            this(message, "");
        }

        Refused(String message, String principal) {
            super(message, null, false, false);
            this.principal = principal;
        }
    }

    private static final String BEARER = "bearer ";
    private final Clock clock;
    private volatile AuthFile file;   // null: no auth file, every caller is unrestricted

    Authenticator(AuthFile file, Clock clock) {
        this.file = file;
        this.clock = clock;
    }

    void use(AuthFile newFile) {
        file = newFile;
    }

    boolean enabled() {
        return file != null;
    }

    /**
     * The caller's principal. {@code authorization} is the header's value or null; {@code tls} the
     * connection's TLS session or null.
     */
    Principal authenticate(String authorization, SSLSession tls) throws Refused {
        AuthFile f = file;
        if (f == null) {
            return Principal.UNRESTRICTED;
        }
        if (authorization != null) {
            return token(f, authorization);
        }
        X509Certificate cert = peerCertificate(tls);
        if (cert != null) {
            List<String> names = names(cert);
            for (AuthFile.Client c : f.clients()) {
                if (names.contains(c.name())) {
                    return new Principal(Principal.Kind.CERTIFICATE, c.name(), c.grants());
                }
            }
            // A credential presented and not recognised is refused, as an unknown token is, even where
            // anonymous callers are let in: the caller meant to be someone.
            throw new Refused("the client certificate (" + String.join(", ", names)
                    + ") matches no client of the auth file");
        }
        if (f.anonymous() != null) {
            return new Principal(Principal.Kind.ANONYMOUS, "anonymous", f.anonymous());
        }
        throw new Refused("credentials required: send 'authorization: Bearer <token>' or a client certificate");
    }

    private Principal token(AuthFile f, String authorization) throws Refused {
        if (authorization.length() <= BEARER.length()
                || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            throw new Refused("the authorization header is not 'Bearer <token>'");
        }
        byte[] hash = sha256(authorization.substring(BEARER.length()).strip());
        AuthFile.Token found = null;
        for (AuthFile.Token t : f.tokens()) {
            if (MessageDigest.isEqual(hash, t.sha256()) && found == null) {
                found = t;
            }
        }
        if (found == null) {
            throw new Refused("unknown bearer token");
        }
        if (found.expires() != null && !clock.instant().isBefore(found.expires())) {
            throw new Refused("the bearer token '" + found.id() + "' expired at " + found.expires(), found.id());
        }
        return new Principal(Principal.Kind.TOKEN, found.id(), found.grants());
    }

    static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** The client's certificate on this TLS connection, or null (no TLS, or none presented). */
    static X509Certificate peerCertificate(SSLSession tls) {
        if (tls == null) {
            return null;
        }
        try {
            var chain = tls.getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof X509Certificate x ? x : null;
        } catch (SSLPeerUnverifiedException e) {
            return null;   // no client certificate on this connection
        }
    }

    /** The certificate's subject CN and DNS subject alternative names. */
    static List<String> names(X509Certificate cert) {
        var names = new ArrayList<String>();
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    names.add(rdn.getValue().toString());
                }
            }
        } catch (InvalidNameException e) {
            // no usable subject: the SANs may still name it
        }
        try {
            var sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (Integer.valueOf(2).equals(san.get(0))) {   // dNSName
                        names.add(san.get(1).toString());
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // a SAN extension that does not parse names nothing
        }
        return names;
    }
}
