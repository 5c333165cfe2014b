package io.sluice.server.security;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The server's certificate and key, read again per reload and looked up per handshake: each new
 * connection's handshake uses whatever {@link #load} installed last, while established connections
 * keep the keys they negotiated. A new pair that does not parse, whose key does not match its
 * certificate, or that is not valid now is refused and the old pair stays.
 */
final class KeyMaterial extends X509ExtendedKeyManager {
    private volatile Pair current;

    /** Reads and checks the pair, then uses it for the next handshakes; throws naming the problem. */
    void load(Path certFile, Path keyFile) throws IOException {
        List<X509Certificate> chain = PemFiles.certificates(certFile);
        PrivateKey key = PemFiles.privateKey(keyFile);
        X509Certificate first = chain.getFirst();
        try {
            first.checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            throw new IllegalArgumentException(certFile + " is not valid now (" + first.getNotBefore() + " to "
                    + first.getNotAfter() + ")");
        }
        checkPair(certFile, first, key);
        Pair old = current;
        current = new Pair("sluice-" + (old == null ? 1 : old.version + 1), old == null ? 1 : old.version + 1,
                chain.toArray(new X509Certificate[0]), key, old == null ? null : old.dropPrevious());
    }

    /**
     * One certificate chain and key under an alias of its own, with the pair it replaced: a handshake
     * that chose the old alias just before a reload still finds the old chain and key by it.
     */
    private record Pair(String alias, long version, X509Certificate[] chain, PrivateKey key, Pair previous) {
        Pair dropPrevious() {
            return new Pair(alias, version, chain, key, null);
        }

        Pair find(String a) {
            return alias.equals(a) ? this : previous != null && previous.alias.equals(a) ? previous : null;
        }

        boolean suits(String keyType) {
            String algorithm = key.getAlgorithm().equals("EdDSA") ? "Ed25519" : key.getAlgorithm();
            return keyType == null || keyType.equals(algorithm) || keyType.startsWith(algorithm + "_")
                    || (algorithm.equals("Ed25519") && keyType.equals("EdDSA"));
        }
    }

    /** The certificate served now. */
    X509Certificate certificate() {
        return current.chain()[0];
    }

    /** A signature made with the key verifies with the certificate, else the two are not a pair. */
    private static void checkPair(Path certFile, X509Certificate cert, PrivateKey key) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (algorithm == null) {
            return;   // the handshake will tell
        }
        try {
            byte[] probe = "sluice key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature sign = Signature.getInstance(algorithm);
            sign.initSign(key);
            sign.update(probe);
            byte[] signature = sign.sign();
            Signature verify = Signature.getInstance(algorithm);
            verify.initVerify(cert.getPublicKey());
            verify.update(probe);
            if (verify.verify(signature)) {
                return;
            }
        } catch (GeneralSecurityException e) {
            // falls through: not a pair
        }
        throw new IllegalArgumentException("the key does not belong to the certificate " + certFile);
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return null;   // a server key: never offered as a client's
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return null;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        Pair p = current;
        return p != null && p.suits(keyType) ? new String[] {p.alias()} : null;
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        Pair p = current;
        return p != null && p.suits(keyType) ? p.alias() : null;
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return chooseServerAlias(keyType, issuers, null);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Pair p = current == null ? null : current.find(alias);
        return p == null ? null : p.chain().clone();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        Pair p = current == null ? null : current.find(alias);
        return p == null ? null : p.key();
    }
}
