package io.sluice.server.security;

import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * The broker's protection, built from a {@link SecurityConfig}: TLS with reloadable certificates,
 * authentication and per-topic grants from the auth file, the audit log, and the connection and
 * stream limits. {@link #start} reads every file once and refuses to start on any problem;
 * afterwards the files are re-read when they change and on {@link #reload()} (SIGHUP), a bad new
 * file being refused with a log line while the old content stays in use. Established connections
 * are never dropped by a reload: TLS material is looked up per handshake. Owns one thread (the
 * reloader's); {@link #close()} stops it and closes the audit log.
 */
public final class Security implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Security.class.getName());

    /** RST_STREAM frames a connection may send in {@link #RESET_WINDOW_SECONDS} before it is closed. */
    static final int MAX_RESETS = 2000;
    static final int RESET_WINDOW_SECONDS = 10;
    /**
     * Each stream's and each connection's HTTP/2 receive window, fixed: gRPC's automatic tuning would
     * grow it on a fast link until whole messages that wait for the publish budget sit unread in
     * direct memory, 4 MiB each.
     */
    static final int FLOW_CONTROL_WINDOW = 256 << 10;

    private final SecurityConfig config;
    private final KeyMaterial keys;
    private final TrustMaterial trust;
    private final Authenticator authenticator;
    private final AuditLog audit;
    private final ConnectionGuard connections;
    private final StreamCount subscribeStreams;
    private final CallGuard calls;
    private final Reloader reloader;
    private final OpenStreams openStreams;

    private Security(SecurityConfig config, KeyMaterial keys, TrustMaterial trust, Authenticator authenticator,
                     AuditLog audit, Reloader reloader) {
        this.config = config;
        this.keys = keys;
        this.trust = trust;
        this.authenticator = authenticator;
        this.audit = audit;
        this.reloader = reloader;
        this.connections = new ConnectionGuard(config.maxConnections(), config.handshakeTimeout(),
                config.maxStreamsPerConnection(), config.maxCalls());
        this.subscribeStreams = new StreamCount(config.maxSubscribeStreams());
        this.openStreams = new OpenStreams(authenticator);
        reloader.afterEachPass(openStreams::recheck);
        this.calls = new CallGuard(config.maxCalls(), config.maxConnections(), config.handshakeTimeout());
    }

    /** Reads the certificates and the auth file and opens the audit log; throws naming the first problem. */
    public static Security start(SecurityConfig config) {
        return start(config, Clock.systemUTC());
    }

    static Security start(SecurityConfig config, Clock clock) {
        KeyMaterial keys = null;
        TrustMaterial trust = null;
        var reloader = new Reloader(config.reloadInterval());
        try {
            if (config.tls()) {
                var k = new KeyMaterial();
                k.load(config.tlsCert(), config.tlsKey());
                keys = k;
                reloader.watch("TLS certificate and key", List.of(config.tlsCert(), config.tlsKey()),
                        () -> k.load(config.tlsCert(), config.tlsKey()));
            }
            if (config.tlsClientCa() != null) {
                var t = new TrustMaterial();
                t.load(config.tlsClientCa());
                trust = t;
                reloader.watch("client certificate authorities", List.of(config.tlsClientCa()),
                        () -> t.load(config.tlsClientCa()));
            }
            AuthFile file = config.authFile() == null ? null : AuthFile.read(config.authFile());
            var authenticator = new Authenticator(file, clock);
            if (config.authFile() != null) {
                reloader.watch("auth file " + config.authFile(), List.of(config.authFile()),
                        () -> authenticator.use(AuthFile.read(config.authFile())));
            }
            var security = new Security(config, keys, trust, authenticator, AuditLog.open(config.auditLog(), clock),
                    reloader);
            reloader.start();
            return security;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a security file: " + e, e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /**
     * Applies TLS and the limits to the gRPC server; {@code channelType} is the listening channel's class,
     * {@code maxRequestBytes} the size of the largest request (message) it takes.
     */
    public NettyServerBuilder configure(NettyServerBuilder builder, Class<? extends ServerChannel> channelType,
                                        int maxRequestBytes) {
        builder.channelFactory(connections.channels(channelType, maxRequestBytes))
                .maxInboundMessageSize(maxRequestBytes)
                .flowControlWindow(FLOW_CONTROL_WINDOW)
                // Streams a client opens and resets at once (HTTP/2 rapid reset, CVE-2023-44487) cost the
                // broker a call each while holding no stream: past this rate the connection is closed.
                .maxRstFramesPerWindow(MAX_RESETS, RESET_WINDOW_SECONDS)
                .addTransportFilter(connections.readiness())
                .intercept(calls)   // before every service's own interceptors
                .maxConcurrentCallsPerConnection(config.maxStreamsPerConnection())
                .maxInboundMetadataSize(config.maxMetadataBytes());
        if (keys != null) {
            builder.sslContext(sslContext());
        }
        return builder;
    }

    private SslContext sslContext() {
        // The JDK's provider asks the key and trust managers at every handshake, so a reload reaches
        // the next connection; OpenSSL's would cache the key material.
        SslContextBuilder ssl = SslContextBuilder.forServer(keys).sslProvider(SslProvider.JDK);
        if (trust != null) {
            ssl.trustManager(trust).clientAuth(switch (config.clientAuth()) {
                case NONE -> ClientAuth.NONE;
                case OPTIONAL -> ClientAuth.OPTIONAL;
                case REQUIRE -> ClientAuth.REQUIRE;
            });
        }
        try {
            return GrpcSslContexts.configure(ssl, SslProvider.JDK).build();
        } catch (SSLException e) {
            throw new IllegalArgumentException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** The service with authentication, grants, the audit log and the Subscribe stream limit in front. */
    public ServerServiceDefinition protect(ServerServiceDefinition service) {
        return ServerInterceptors.intercept(service, new AuthInterceptor(authenticator, audit, subscribeStreams,
                openStreams));
    }

    /**
     * Where the metrics endpoint listens: {@code --metrics-host}; else, with an auth file, the loopback
     * address (the endpoint and its console, which shows topic names and payloads, are not covered by
     * the auth file, so they are not exposed unless asked); else the gRPC host.
     */
    public String metricsHost(String grpcHost) {
        if (config.metricsHost() != null) {
            return config.metricsHost();
        }
        return config.authFile() != null ? "127.0.0.1" : grpcHost;
    }

    public SecurityConfig config() {
        return config;
    }

    /** Whether any file can be reloaded (TLS or an auth file is configured). */
    public boolean reloadable() {
        return config.tls() || config.authFile() != null;
    }

    /**
     * Re-reads every security file now, on the reloader's thread (SIGHUP); answers at once. A file
     * that is refused is logged and its old content kept.
     */
    public void reload() {
        LOG.log(Level.INFO, "reloading certificates and the auth file");
        reloader.requestReload();
    }

    /** As {@link #reload()}, waiting up to {@code deadline} for it to finish; false when it did not. */
    public boolean reloadAndWait(Duration deadline) throws InterruptedException {
        return reloader.awaitReload(reloader.requestReload(), deadline);
    }

    /** Security files loaded since start (for tests: see {@link #awaitLoads}). */
    long loads() {
        return reloader.loads();
    }

    /** Waits until {@code count} loads have happened since start; false when the deadline passed first. */
    boolean awaitLoads(long count, Duration deadline) throws InterruptedException {
        return reloader.awaitLoads(count, deadline);
    }

    /** The server certificate served to new connections now; null without TLS. */
    java.security.cert.X509Certificate certificate() {
        return keys == null ? null : keys.certificate();
    }

    /** What is in force, for the start banner. */
    public String describe() {
        var parts = new ArrayList<String>();
        parts.add(config.tls() ? "TLS" + (trust != null ? " (client certificates "
                + config.clientAuth().name().toLowerCase(java.util.Locale.ROOT) + ")" : "") : "plaintext");
        parts.add(authenticator.enabled() ? "auth file " + config.authFile() : "no authentication");
        if (audit.enabled()) {
            parts.add("audit log " + config.auditLog());
        }
        return String.join(", ", parts);
    }

    /** Connections open now (for tests and the banner's limits). */
    public int openConnections() {
        return connections.open();
    }

    /** Calls open now, of every kind. */
    public int openCalls() {
        return calls.open();
    }

    @Override
    public void close() {
        reloader.close();
        audit.close();
        calls.close();
    }
}
