package io.sluice.server;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.sluice.delivery.Delivery;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.security.Security;
import io.sluice.server.security.SecurityConfig;
import io.sluice.store.Store;
import io.sluice.store.StoreListener;
import io.sluice.store.Stores;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Telemetry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The broker: wires and owns the store, delivery, telemetry and the gRPC server. Start order:
 * telemetry → store (open, migrate, check, writer) → delivery → gRPC server; {@link #close()}
 * stops accepting calls, ends streams with SHUTTING_DOWN, lets calls in flight finish, commits
 * what is queued, closes the database, then telemetry.
 */
public final class SluiceServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SluiceServer.class.getName());

    private final ServerConfig config;
    private final Store store;
    private final Delivery delivery;
    private final Telemetry telemetry;
    private final ExecutorService calls;
    private final Transport transport;
    private final HealthStatusManager health;
    private final SluiceService service;
    private final Server grpc;
    private final Fatal fatal;
    private final MemoryBudget budget;
    private final Security security;
    private boolean closed;   // guarded by this

    private SluiceServer(ServerConfig config, Store store, Delivery delivery, Telemetry telemetry,
                         ExecutorService calls, Transport transport, HealthStatusManager health,
                         SluiceService service, Server grpc, Fatal fatal, MemoryBudget budget, Security security) {
        this.config = config;
        this.store = store;
        this.delivery = delivery;
        this.telemetry = telemetry;
        this.calls = calls;
        this.transport = transport;
        this.health = health;
        this.service = service;
        this.grpc = grpc;
        this.fatal = fatal;
        this.budget = budget;
        this.security = security;
    }

    /** The memory budget of publishes held (for tests of the package). */
    MemoryBudget budget() {
        return budget;
    }

    /** Opens the store and starts serving. Throws with a clear message when the data or a port is unusable. */
    public static SluiceServer start(ServerConfig config) {
        return start(config, SecurityConfig.none(), List.of());
    }

    /** As {@link #start(ServerConfig)}, protected as {@code securityConfig} says (TLS, auth file, limits). */
    public static SluiceServer start(ServerConfig config, SecurityConfig securityConfig) {
        return start(config, securityConfig, List.of());
    }

    /** As {@link #start(ServerConfig)}, with extra span processors (tests record the broker's spans). */
    public static SluiceServer start(ServerConfig config, List<SpanProcessor> spanProcessors) {
        return start(config, SecurityConfig.none(), spanProcessors);
    }

    private static SluiceServer start(ServerConfig config, SecurityConfig securityConfig,
                                      List<SpanProcessor> spanProcessors) {
        var options = config.storeOptions().withWriteQueue(config.writerQueue());
        Telemetry telemetry = null;
        StoreOpening opening = null;
        Store store = null;
        ExecutorService calls = null;
        Transport transport = null;
        Security security = null;
        try {
            long t0 = System.nanoTime();
            requireFreePort(config);
            // The storage opens (and checks, and migrates) on a thread of its own while the telemetry starts:
            // both load many classes, and two cores do it in about half the time.
            var commits = new AtomicReference<BrokerMetrics>();
            opening = StoreOpening.start(() -> Stores.open(config.dataDir(), config.database(), options,
                    (ops, messages, nanos) -> {
                        BrokerMetrics m = commits.get();
                        if (m != null) {   // commits made while the broker starts (a resumed purge) are not counted
                            m.committed(messages, nanos);
                        }
                    }));
            security = Security.start(securityConfig);
            telemetry = Telemetry.start(new Telemetry.Settings(security.metricsHost(config.host()),
                    config.metricsPort(),
                    config.otlpEndpoint(), spanProcessors), Version.get());
            BrokerMetrics metrics = telemetry.metrics();
            commits.set(metrics);
            long t1 = System.nanoTime();
            store = opening.await();
            Store s = store;
            metrics.gauge("sluice.writer.queue.depth", "Operations waiting for the writer", "{operation}",
                    s::pendingWrites);
            metrics.gauge("sluice.database.size", "Size of the database file", "By", () -> s.footprint().dataBytes());
            metrics.gauge("sluice.wal.size", "Size of the write-ahead log", "By", () -> s.footprint().logBytes());

            // A failure no handler caught (out of direct memory writing an answer, say) is one log line, rate
            // limited like every other, not a stack trace on stderr per call.
            var uncaught = new io.sluice.telemetry.LogBurst();
            calls = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("rpc-", 0)
                    .uncaughtExceptionHandler((thread, e) -> {
                        long skipped = uncaught.admit();
                        if (skipped >= 0) {
                            LOG.log(Level.WARNING, (skipped > 0 ? io.sluice.telemetry.LogBurst.summary(skipped,
                                    "such failures") + "; " : "") + "a call's thread failed: " + e);
                        }
                    })
                    .factory());
            transport = Transport.create();
            var publisher = new Publisher(store, metrics, telemetry.tracing(), config.maxMessageBytes(),
                    config.maxBatchBytes(), config.maxBatchMessages(), calls);
            var budget = new MemoryBudget(config.maxQueuedBytes());
            metrics.gauge("sluice.publish.held", "Bytes of publishes held from their reading to their answer "
                    + "(bounded by --max-queued-bytes)", "By", budget::used);
            metrics.gauge("sluice.publish.waiting", "Publishes waiting for room in the memory budget", "{call}",
                    budget::waiting);
            var delivery = new Delivery(store, config.heartbeat(), metrics, telemetry.tracing(),
                    config.maxQueuedBytes());
            metrics.gauge("sluice.delivery.held", "Bytes of messages Subscribe streams hold from their reading "
                    + "until the client took them (bounded by --max-queued-bytes)", "By", delivery::heldBytes);
            metrics.groupGauge("sluice.backpressure.active",
                    "1 when a group's stream has no credit while messages wait for it", "",
                    delivery::backpressure);
            metrics.gauge("sluice.streams.active", "Subscribe streams open now", "{stream}",
                    delivery::activeStreams);
            metrics.liveGroups(() -> liveGroups(s));
            new GroupGauges(s).register(metrics);
            telemetry.console().attach(new ConsoleData(store, delivery), metrics);
            var health = new HealthStatusManager();
            var service = new SluiceService(store, budget, publisher, delivery, calls, transport);
            NettyServerBuilder builder = security.configure(transport.configure(
                            NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port()))),
                            transport.channelType(), config.maxInboundBytes())
                    .directExecutor()   // finding a call's method and handler: on its transport thread
                    .callExecutor(executors(calls))
                    .decompressorRegistry(GzipRequests.registry())
                    .permitKeepAliveTime(10, TimeUnit.SECONDS)
                    .permitKeepAliveWithoutCalls(true)
                    .addService(security.protect(ServerInterceptors.intercept(
                            RequestParsing.strict(service.bindService(), batch -> batch.refusal(publisher,
                                    config.maxInboundBytes() + Admission.OVERHEAD_PER_MESSAGE)),
                            new Admission(budget, publisher.largestMessage(), config.maxInboundBytes()))))
                    .addService(ServerInterceptors.intercept(
                            RequestParsing.closing(health.getHealthService().bindService()), new HealthNames()))
                    .addService(RequestParsing.closing(ProtoReflectionServiceV1.newInstance().bindService()))
                    .addService(RequestParsing.closing(reflectionV1Alpha().bindService()));
            telemetry.instrument(builder);
            builder.intercept(new CallResets());   // added last, it runs first: the call's own context
            Server grpc = builder.build();
            // A broker that refuses every write until it restarts says so to probes: restarting is its
            // recovery (reads are still served meanwhile, to whoever still asks).
            setHealth(health, ServingStatus.SERVING);
            var fatal = new Fatal();
            store.listen(new StoreListener() {
                @Override
                public void refusingWrites(String reason) {
                    setHealth(health, ServingStatus.NOT_SERVING);
                }

                @Override
                public void discarded(String topic, long removed, long unconsumed) {
                    metrics.discarded(topic, removed, unconsumed);
                }

                @Override
                public void writerFailed(String reason, Throwable cause) {
                    setHealth(health, ServingStatus.NOT_SERVING);
                    fatal.report(reason);
                }
            });
            long t2 = System.nanoTime();
            grpc.start();
            long t3 = System.nanoTime();
            LOG.log(Level.DEBUG, () -> "start: telemetry " + (t1 - t0) / 1_000_000 + " ms, storage "
                    + (t2 - t1) / 1_000_000 + " ms, gRPC " + (t3 - t2) / 1_000_000 + " ms");
            return new SluiceServer(config, store, delivery, telemetry, calls, transport, health, service, grpc,
                    fatal, budget, security);
        } catch (IOException e) {
            closeAll(store != null ? store : StoreOpening.abandon(opening), telemetry, calls, transport, security);
            throw new UncheckedIOException(Telemetry.portProblem("gRPC", config.host(), "--host", config.port(),
                    "--port", "SLUICE_PORT", "0 picks a free one", e), e);
        } catch (RuntimeException e) {
            closeAll(store != null ? store : StoreOpening.abandon(opening), telemetry, calls, transport, security);
            throw e;
        }
    }

    /**
     * The publishes run where their messages arrive (they are only checked and queued, never
     * blocking), so no message pays a thread hop. Subscribe's listener does too, only to queue each
     * message for its own worker and ask for the next one without waking the transport
     * ({@link PacedInbound}). Every other call runs on a virtual thread.
     */
    private static ServerCallExecutorSupplier executors(Executor calls) {
        return new ServerCallExecutorSupplier() {
            @Override
            public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
                return DIRECT.contains(call.getMethodDescriptor().getFullMethodName()) ? null : calls;
            }
        };
    }

    private static final Set<String> DIRECT = Set.of(
            SluiceGrpc.getPublishMethod().getFullMethodName(),
            SluiceGrpc.getBatchPublishMethod().getFullMethodName(),
            SluiceGrpc.getPublishStreamMethod().getFullMethodName(),
            SluiceGrpc.getSubscribeMethod().getFullMethodName());

    /** The broker as a whole ("") and its service. */
    private static void setHealth(HealthStatusManager health, ServingStatus status) {
        health.setStatus("", status);
        health.setStatus(SluiceGrpc.SERVICE_NAME, status);
    }

    /** The (topic, group) pairs that exist: the metrics of the others are dropped. */
    private static Set<List<String>> liveGroups(Store store) {
        var out = new java.util.HashSet<List<String>>();
        for (var g : store.groupCursors()) {
            out.add(List.of(g.topic(), g.group()));
        }
        return out;
    }

    @SuppressWarnings("deprecation")
    private static io.grpc.BindableService reflectionV1Alpha() {
        // grpcurl and older tools still ask the v1alpha reflection service.
        return ProtoReflectionService.newInstance();
    }

    /** Closes what a start that failed half way had opened, in the same order as {@link #close()}. */
    /**
     * A gRPC port some process holds is refused before the storage is opened (and logs its closing): the
     * one line naming the port is all the operator reads. gRPC binds the port again when it starts.
     */
    private static void requireFreePort(ServerConfig config) throws IOException {
        if (config.port() != 0) {
            try (var probe = new java.net.ServerSocket()) {
                probe.setReuseAddress(true);   // as the transport binds: a port left in TIME_WAIT is free
                probe.bind(new InetSocketAddress(config.host(), config.port()));
            }
        }
    }

    private static void closeAll(Store store, Telemetry telemetry, ExecutorService calls, Transport transport,
                                 Security security) {
        new Shutdown()
                .then("stopping the call threads", calls, () -> calls.shutdownNow())
                .then("closing the store", store, () -> store.close())
                .then("stopping the transport", transport, () -> transport.close())
                .then("closing telemetry", telemetry, () -> telemetry.close())
                .then("closing security", security, () -> security.close());
    }

    /** The port gRPC listens on (the real one when configured with 0). */
    public int port() {
        return grpc.getPort();
    }

    /**
     * Registers who is told, once, that the broker cannot go on (its writer stopped on an error it
     * cannot recover from; health already says NOT_SERVING): the process should close the broker
     * and exit non-zero. Told at once when that already happened. Runs on the thread that found it.
     */
    public void onFatal(Consumer<String> handler) {
        fatal.onReport(handler);
    }

    /** Why the broker cannot go on, or null while it can. */
    public String fatalReason() {
        return fatal.reason();
    }

    public ServerConfig config() {
        return config;
    }

    public Store store() {
        return store;
    }

    public Delivery delivery() {
        return delivery;
    }

    public Telemetry telemetry() {
        return telemetry;
    }

    /** TLS, authentication and limits; {@link Security#reload()} is what SIGHUP calls. */
    public Security security() {
        return security;
    }

    /**
     * Stops accepting, lets calls in flight finish within the grace period, commits everything
     * queued, closes the database, then telemetry. Idempotent; called by the signal handler.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long started = System.nanoTime();
        LOG.log(Level.INFO, "shutting down: no new calls accepted");
        var shutdown = new Shutdown()
                .then("telling probes", health::enterTerminalState)
                .then("stopping accepting calls", grpc::shutdown)
                .then("ending publish streams", service::shutDownPublishStreams)
                .then("ending subscriptions", () -> delivery.close(config.shutdownGrace()))
                .then("finishing calls in flight", this::awaitCalls)
                .then("stopping the call threads", () -> {
                    calls.shutdown();
                    if (!calls.awaitTermination(5, TimeUnit.SECONDS)) {
                        LOG.log(Level.WARNING, "call threads still running 5 s after the calls ended");
                    }
                })
                .then("closing the store", store::close)   // commits what is queued
                .then("stopping the transport", transport::close)   // after the store: the last answers go out on it
                .then("closing telemetry", telemetry::close)
                .then("closing security", security::close);
        LOG.log(Level.INFO, "stopped in " + (System.nanoTime() - started) / 1_000_000 + " ms"
                + (shutdown.failures() > 0 ? " (" + shutdown.failures() + " steps failed, logged above)" : ""));
    }

    /** Lets calls in flight finish within the grace period, then cancels the rest. */
    private void awaitCalls() throws InterruptedException {
        try {
            if (!grpc.awaitTermination(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.log(Level.WARNING, "calls still running after " + config.shutdownGrace().toSeconds()
                        + " s; cancelling them");
                grpc.shutdownNow();
                grpc.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            grpc.shutdownNow();
            throw e;
        }
    }
}
