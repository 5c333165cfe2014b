package io.sluice.server.security;

import java.nio.file.Path;
import java.time.Duration;

/**
 * How the broker protects its gRPC port (SPEC §7 and issue #21). Every part is optional:
 * {@link #none()} serves plaintext to anyone, as before, with the default connection limits.
 *
 * @param tlsCert PEM certificate chain of the server (with {@code tlsKey}: TLS on the gRPC port)
 * @param tlsKey unencrypted PKCS#8 PEM key of the server
 * @param tlsClientCa PEM certificate authorities client certificates are checked against
 * @param clientAuth whether a client certificate is asked for; null: {@code optional} with a CA, else {@code none}
 * @param authFile the YAML of tokens, client names and grants; null: no authentication
 * @param auditLog where to append one JSON line per admin call and per denial; null: none
 * @param metricsHost the address of the metrics endpoint; null: the gRPC host
 * @param maxConnections connections open at once; more are closed as they arrive
 * @param maxStreamsPerConnection concurrent calls on one connection (HTTP/2 MAX_CONCURRENT_STREAMS)
 * @param maxSubscribeStreams Subscribe streams open on the broker; more get RESOURCE_EXHAUSTED
 * @param maxMetadataBytes largest header block of a call
 * @param handshakeTimeout a connection that has not completed TLS and the HTTP/2 preface by then is closed
 * @param reloadInterval how often the certificate, key, CA and auth files are checked for changes
 * @param maxCalls calls of any kind open on the broker at once; more get RESOURCE_EXHAUSTED
 */
public record SecurityConfig(Path tlsCert, Path tlsKey, Path tlsClientCa, ClientAuth clientAuth, Path authFile,
                             Path auditLog, String metricsHost, int maxConnections, int maxStreamsPerConnection,
                             int maxSubscribeStreams, int maxMetadataBytes, Duration handshakeTimeout,
                             Duration reloadInterval, int maxCalls) {

    public static final int DEFAULT_MAX_CONNECTIONS = 4096;
    public static final int DEFAULT_MAX_STREAMS_PER_CONNECTION = 1000;
    public static final int DEFAULT_MAX_SUBSCRIBE_STREAMS = 10_000;
    public static final int DEFAULT_MAX_CALLS = 16_384;
    public static final int DEFAULT_MAX_METADATA_BYTES = 8192;
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_RELOAD_INTERVAL = Duration.ofSeconds(2);

    /** Whether and how client certificates are asked for during the TLS handshake. */
    public enum ClientAuth { NONE, OPTIONAL, REQUIRE }

    public SecurityConfig {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together: give both or neither");
        }
        if (tlsClientCa != null && tlsCert == null) {
            throw new IllegalArgumentException("--tls-client-ca needs TLS: give --tls-cert and --tls-key too");
        }
        if (clientAuth == null) {
            clientAuth = tlsClientCa != null ? ClientAuth.OPTIONAL : ClientAuth.NONE;
        }
        if (clientAuth != ClientAuth.NONE && tlsClientCa == null) {
            throw new IllegalArgumentException("--tls-client-auth "
                    + clientAuth.name().toLowerCase(java.util.Locale.ROOT)
                    + " needs --tls-client-ca, the authorities client certificates are checked against");
        }
        positive(maxConnections, "--max-connections");
        positive(maxStreamsPerConnection, "--max-streams-per-connection");
        positive(maxSubscribeStreams, "--max-subscribe-streams");
        positive(maxCalls, "--max-calls");
        if (maxMetadataBytes < 1024) {
            throw new IllegalArgumentException("--max-metadata-bytes must be at least 1024, not " + maxMetadataBytes);
        }
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
            throw new IllegalArgumentException("--handshake-timeout must be positive, not " + handshakeTimeout);
        }
        if (reloadInterval.isNegative() || reloadInterval.isZero()
                || reloadInterval.compareTo(Duration.ofHours(1)) > 0) {
            throw new IllegalArgumentException("the reload interval must be positive and at most an hour, not "
                    + reloadInterval);
        }
    }

    private static void positive(int n, String flag) {
        if (n < 1) {
            throw new IllegalArgumentException(flag + " must be positive, not " + n);
        }
    }

    /** Plaintext, no authentication, the default limits. */
    public static SecurityConfig none() {
        return new SecurityConfig(null, null, null, null, null, null, null, DEFAULT_MAX_CONNECTIONS,
                DEFAULT_MAX_STREAMS_PER_CONNECTION, DEFAULT_MAX_SUBSCRIBE_STREAMS, DEFAULT_MAX_METADATA_BYTES,
                DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_RELOAD_INTERVAL, DEFAULT_MAX_CALLS);
    }

    public SecurityConfig withTls(Path cert, Path key, Path clientCa, ClientAuth auth) {
        return new SecurityConfig(cert, key, clientCa, auth, authFile, auditLog, metricsHost, maxConnections,
                maxStreamsPerConnection, maxSubscribeStreams, maxMetadataBytes, handshakeTimeout, reloadInterval,
                maxCalls);
    }

    public SecurityConfig withAuth(Path file, Path audit) {
        return new SecurityConfig(tlsCert, tlsKey, tlsClientCa, clientAuth, file, audit, metricsHost, maxConnections,
                maxStreamsPerConnection, maxSubscribeStreams, maxMetadataBytes, handshakeTimeout, reloadInterval,
                maxCalls);
    }

    public SecurityConfig withLimits(int connections, int streamsPerConnection, int subscribeStreams,
                                     int metadataBytes, Duration handshake) {
        return new SecurityConfig(tlsCert, tlsKey, tlsClientCa, clientAuth, authFile, auditLog, metricsHost,
                connections, streamsPerConnection, subscribeStreams, metadataBytes, handshake, reloadInterval,
                maxCalls);
    }

    public SecurityConfig withMetricsHost(String host) {
        return new SecurityConfig(tlsCert, tlsKey, tlsClientCa, clientAuth, authFile, auditLog, host, maxConnections,
                maxStreamsPerConnection, maxSubscribeStreams, maxMetadataBytes, handshakeTimeout, reloadInterval,
                maxCalls);
    }

    public SecurityConfig withReloadInterval(Duration interval) {
        return new SecurityConfig(tlsCert, tlsKey, tlsClientCa, clientAuth, authFile, auditLog, metricsHost,
                maxConnections, maxStreamsPerConnection, maxSubscribeStreams, maxMetadataBytes, handshakeTimeout,
                interval, maxCalls);
    }

    public SecurityConfig withMaxCalls(int calls) {
        return new SecurityConfig(tlsCert, tlsKey, tlsClientCa, clientAuth, authFile, auditLog, metricsHost,
                maxConnections, maxStreamsPerConnection, maxSubscribeStreams, maxMetadataBytes, handshakeTimeout,
                reloadInterval, calls);
    }

    public boolean tls() {
        return tlsCert != null;
    }
}
