package io.sluice.cli;

import io.sluice.server.security.SecurityConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** The {@code serve} options for TLS, authentication, the audit log, the metrics address and the limits. */
final class SecurityOptions {
    @Option(names = "--metrics-host", defaultValue = "${env:SLUICE_METRICS_HOST}", paramLabel = "ADDR",
            description = "Address of the metrics endpoint and web console, e.g. an internal interface; the "
                    + "auth file does not cover them, so with --auth-file it is 127.0.0.1 unless given "
                    + "(env SLUICE_METRICS_HOST, default the gRPC host).")
    String metricsHost;

    @Option(names = "--tls-cert", defaultValue = "${env:SLUICE_TLS_CERT}", paramLabel = "FILE",
            description = "PEM certificate chain of the server; with its key, TLS on the gRPC port. Re-read on "
                    + "SIGHUP and when it changes (env SLUICE_TLS_CERT, default none).")
    Path tlsCert;

    @Option(names = "--tls-key", defaultValue = "${env:SLUICE_TLS_KEY}", paramLabel = "FILE",
            description = "Unencrypted PKCS#8 PEM key of the server (env SLUICE_TLS_KEY, default none).")
    Path tlsKey;

    @Option(names = "--tls-client-ca", defaultValue = "${env:SLUICE_TLS_CLIENT_CA}", paramLabel = "FILE",
            description = "PEM certificate authorities that client certificates are checked against "
                    + "(env SLUICE_TLS_CLIENT_CA, default none).")
    Path tlsClientCa;

    @Option(names = "--tls-client-auth", defaultValue = "${env:SLUICE_TLS_CLIENT_AUTH}", paramLabel = "MODE",
            description = "none, optional or require a client certificate "
                    + "(env SLUICE_TLS_CLIENT_AUTH, default optional with a client CA, else none).")
    SecurityConfig.ClientAuth tlsClientAuth;

    @Option(names = "--auth-file", defaultValue = "${env:SLUICE_AUTH_FILE}", paramLabel = "FILE",
            description = "YAML of tokens (SHA-256), client certificate names and per-topic grants; every call "
                    + "then needs credentials. Re-read on SIGHUP and when it changes "
                    + "(env SLUICE_AUTH_FILE, default none).")
    Path authFile;

    @Option(names = "--audit-log", defaultValue = "${env:SLUICE_AUDIT_LOG}", paramLabel = "FILE",
            description = "Append one JSON line per admin call and per denial (env SLUICE_AUDIT_LOG, default none).")
    Path auditLog;

    @Option(names = "--max-connections", defaultValue = "${env:SLUICE_MAX_CONNECTIONS:-4096}", paramLabel = "N",
            description = "Connections open at once; more are closed as they arrive "
                    + "(env SLUICE_MAX_CONNECTIONS, default ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--max-streams-per-connection", defaultValue = "${env:SLUICE_MAX_STREAMS_PER_CONNECTION:-1000}",
            paramLabel = "N", description = "Concurrent calls on one connection "
                    + "(env SLUICE_MAX_STREAMS_PER_CONNECTION, default ${DEFAULT-VALUE}).")
    int maxStreamsPerConnection;

    @Option(names = "--max-subscribe-streams", defaultValue = "${env:SLUICE_MAX_SUBSCRIBE_STREAMS:-10000}",
            paramLabel = "N", description = "Subscribe streams open on the broker; more get RESOURCE_EXHAUSTED "
                    + "(env SLUICE_MAX_SUBSCRIBE_STREAMS, default ${DEFAULT-VALUE}).")
    int maxSubscribeStreams;

    @Option(names = "--max-calls", defaultValue = "${env:SLUICE_MAX_CALLS:-16384}", paramLabel = "N",
            description = "Calls of any kind open on the broker at once, Subscribe streams included; more get "
                    + "RESOURCE_EXHAUSTED (env SLUICE_MAX_CALLS, default ${DEFAULT-VALUE}).")
    int maxCalls;

    @Option(names = "--max-metadata-bytes", defaultValue = "${env:SLUICE_MAX_METADATA_BYTES:-8192}",
            paramLabel = "BYTES", description = "Largest header block of a call "
                    + "(env SLUICE_MAX_METADATA_BYTES, default ${DEFAULT-VALUE}).")
    int maxMetadataBytes;

    @Option(names = "--handshake-timeout", defaultValue = "${env:SLUICE_HANDSHAKE_TIMEOUT:-10s}",
            paramLabel = "DURATION", converter = Durations.class,
            description = "A connection that has not completed TLS and the HTTP/2 preface by then is closed, "
                    + "and a call whose first request has not arrived by then ends DEADLINE_EXCEEDED "
                    + "(env SLUICE_HANDSHAKE_TIMEOUT, default ${DEFAULT-VALUE}).")
    Duration handshakeTimeout;

    @Option(names = "--reload-interval", defaultValue = "${env:SLUICE_RELOAD_INTERVAL:-2s}", paramLabel = "DURATION",
            converter = Durations.class, description = "How often the TLS files and the auth file are checked for "
                    + "changes; SIGHUP reloads at once (env SLUICE_RELOAD_INTERVAL, default ${DEFAULT-VALUE}).")
    Duration reloadInterval;

    /**
     * The first file these options name that the broker cannot use, as {@code --flag FILE: what is wrong},
     * or null. Checked before anything starts: reading them later reports only the JDK's exception.
     */
    String fileProblem() {
        String[] flags = {"--tls-cert", "--tls-key", "--tls-client-ca", "--auth-file"};
        Path[] files = {tlsCert, tlsKey, tlsClientCa, authFile};
        for (int i = 0; i < flags.length; i++) {
            String problem = unreadable(flags[i], files[i]);
            if (problem != null) {
                return problem;
            }
        }
        if (auditLog == null) {
            return null;
        }
        Path parent = auditLog.toAbsolutePath().getParent();
        if (Files.isDirectory(auditLog)) {
            return "--audit-log " + auditLog + ": is a directory, not a file";
        }
        if (parent != null && !Files.isDirectory(parent)) {
            return "--audit-log " + auditLog + ": no such directory " + parent;
        }
        return null;
    }

    /** What keeps {@code file} (given with {@code flag}) from being read, or null; null for no file. */
    static String unreadable(String flag, Path file) {
        if (file == null) {
            return null;
        }
        if (!Files.exists(file)) {
            return flag + " " + file + ": no such file";
        }
        if (Files.isDirectory(file)) {
            return flag + " " + file + ": is a directory, not a file";
        }
        if (!Files.isReadable(file)) {
            return flag + " " + file + ": not readable (permission denied)";
        }
        return null;
    }

    SecurityConfig config() {
        return SecurityConfig.none()
                .withTls(tlsCert, tlsKey, tlsClientCa, tlsClientAuth)
                .withAuth(authFile, auditLog)
                .withMetricsHost(metricsHost)
                .withLimits(maxConnections, maxStreamsPerConnection, maxSubscribeStreams, maxMetadataBytes,
                        handshakeTimeout)
                .withReloadInterval(reloadInterval)
                .withMaxCalls(maxCalls);
    }
}
