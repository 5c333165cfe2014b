package io.sluice.client;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.CompositeChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.concurrent.Executor;

/**
 * How a {@link SluiceClient} reaches its broker: the call timeout, TLS (the broker's CA, or the
 * system's trusted authorities; optionally a client certificate and key) and a bearer token sent as
 * {@code authorization: Bearer <token>} on every call. Immutable; start from {@link #defaults()}.
 * <pre>{@code
 * var options = ClientOptions.defaults().tls(Path.of("ca.pem")).token(System.getenv("SLUICE_TOKEN"));
 * try (var client = SluiceClient.connect("broker.internal:50051", options)) { ... }
 * }</pre>
 */
public final class ClientOptions {
    private final Duration callTimeout;
    private final boolean tls;
    private final Path caFile;
    private final Path certFile;
    private final Path keyFile;
    private final String token;

    private ClientOptions(Duration callTimeout, boolean tls, Path caFile, Path certFile, Path keyFile, String token) {
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("the call timeout must be positive, not " + callTimeout);
        }
        this.callTimeout = callTimeout;
        this.tls = tls;
        this.caFile = caFile;
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.token = token;
    }

    /** Plaintext, no token, {@link SluiceClient#DEFAULT_CALL_TIMEOUT}. */
    public static ClientOptions defaults() {
        return new ClientOptions(SluiceClient.DEFAULT_CALL_TIMEOUT, false, null, null, null, null);
    }

    public ClientOptions callTimeout(Duration timeout) {
        return new ClientOptions(timeout, tls, caFile, certFile, keyFile, token);
    }

    /** TLS, trusting the system's certificate authorities. */
    public ClientOptions tls() {
        return new ClientOptions(callTimeout, true, caFile, certFile, keyFile, token);
    }

    /** TLS, trusting the authorities in {@code caPemFile} (null: the system's). */
    public ClientOptions tls(Path caPemFile) {
        return new ClientOptions(callTimeout, true, caPemFile, certFile, keyFile, token);
    }

    /** TLS with a client certificate (PEM chain) and its unencrypted PKCS#8 PEM key, for mutual TLS. */
    public ClientOptions clientCertificate(Path certPemFile, Path keyPemFile) {
        if (certPemFile == null || keyPemFile == null) {
            throw new IllegalArgumentException("a client certificate needs both its certificate and its key file");
        }
        return new ClientOptions(callTimeout, true, caFile, certPemFile, keyPemFile, token);
    }

    /** A bearer token sent with every call (null or empty: none). */
    public ClientOptions token(String bearerToken) {
        String bad = tokenProblem(bearerToken);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
        }
        String t = bearerToken == null || bearerToken.isBlank() ? null : bearerToken.strip();
        return new ClientOptions(callTimeout, tls, caFile, certFile, keyFile, t);
    }

    /**
     * Why {@code bearerToken} cannot go in an {@code authorization} header, or null when it can (or is
     * empty: no token). gRPC drops a header with a control character without a word, so such a token
     * would make every call anonymous. The message never shows the token.
     */
    public static String tokenProblem(String bearerToken) {
        if (bearerToken == null) {
            return null;
        }
        String t = bearerToken.strip();
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c <= ' ' || c > '~') {
                return "a bearer token is printable ASCII without spaces; character " + (i + 1) + " of this one "
                        + "is not";
            }
        }
        return null;
    }

    public Duration callTimeout() {
        return callTimeout;
    }

    public boolean usesTls() {
        return tls;
    }

    /** The channel's credentials: TLS or plaintext, with the token on every call when there is one. */
    ChannelCredentials credentials() {
        ChannelCredentials channel;
        if (tls) {
            var builder = TlsChannelCredentials.newBuilder();
            try {
                if (caFile != null) {
                    requireCertificates(caFile, "certificate authority");
                    builder.trustManager(caFile.toFile());
                }
                if (certFile != null) {
                    requireCertificates(certFile, "client certificate");
                    builder.keyManager(certFile.toFile(), keyFile.toFile());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the TLS files: " + e.getMessage(), e);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("cannot use the TLS files: " + e.getMessage(), e);
            }
            channel = builder.build();
        } else {
            channel = InsecureChannelCredentials.create();
        }
        return token == null ? channel : CompositeChannelCredentials.create(channel, new Bearer(token));
    }

    /**
     * Fails at once, naming the file, when {@code file} holds no X.509 certificate in PEM: the transport would
     * only say, on the first call, that it found "no certificate data".
     */
    private static void requireCertificates(Path file, String what) throws IOException {
        try (var in = Files.newInputStream(file)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                throw new IllegalArgumentException(file + " holds no " + what + " (PEM, -----BEGIN CERTIFICATE-----)");
            }
        } catch (CertificateException e) {
            throw new IllegalArgumentException(file + " is not a " + what + " in PEM: " + e.getMessage(), e);
        }
    }

    /** Adds the token to each call's headers; the token is never logged or shown. */
    private static final class Bearer extends CallCredentials {
        private static final Metadata.Key<String> AUTHORIZATION =
                Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        private final String header;

        Bearer(String token) {
            this.header = "Bearer " + token;
        }

        @Override
        public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
            try {
                var headers = new Metadata();
                headers.put(AUTHORIZATION, header);
                applier.apply(headers);
            } catch (RuntimeException e) {
                applier.fail(Status.UNAUTHENTICATED.withDescription("cannot attach the bearer token"));
            }
        }

        @Override
        public String toString() {
            return "Bearer(<hidden>)";
        }
    }
}
