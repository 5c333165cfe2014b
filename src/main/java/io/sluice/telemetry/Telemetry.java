package io.sluice.telemetry;

import io.grpc.ServerBuilder;
import io.grpc.opentelemetry.GrpcOpenTelemetry;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.instrumentation.runtimemetrics.java17.RuntimeMetrics;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.common.export.MemoryMode;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.BindException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;

/**
 * The OpenTelemetry SDK as the broker uses it. Meters are read by the Prometheus HTTP exporter on
 * the metrics port ({@code /metrics}; none when the port is 0), which also serves the web console
 * ({@code /}, {@code /api/...}, see {@link Console}), and, with an OTLP endpoint, pushed there every
 * 10 s together with the traces (OTLP over HTTP through the JDK's HttpClient). Without an OTLP
 * endpoint or extra span processor, tracing is off and costs nothing. JVM metrics come from the
 * OpenTelemetry runtime instrumentation (JMX only, no JFR recording), gRPC call counts and
 * latencies from grpc-java's own OpenTelemetry module.
 */
public final class Telemetry implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Telemetry.class.getName());

    /** How telemetry is set up. {@code otlpEndpoint} may be null; {@code spanProcessors} are extra (tests). */
    public record Settings(String host, int metricsPort, String otlpEndpoint, List<SpanProcessor> spanProcessors) {
        public Settings {
            spanProcessors = List.copyOf(spanProcessors);
        }

        public static Settings of(String host, int metricsPort, String otlpEndpoint) {
            return new Settings(host, metricsPort, otlpEndpoint, List.of());
        }
    }

    /**
     * Series per metric before the SDK folds the rest into one {@code otel_metric_overflow} series: one
     * per 48 KiB of the heap, from 2,000 (the SDK's default) to 100,000. The SDK's default folded
     * thousands of groups' lag into one meaningless number; but each series costs a line of every
     * scrape and heap in the SDK while the scrape is made (about 600 bytes measured, for each of the
     * fifteen metrics with a topic or group label), and 20,000 groups' series ran a 160 MiB heap out of
     * memory at the first scrape (docs/observability.md).
     */
    public static final int SERIES_LIMIT = seriesLimit(Runtime.getRuntime().maxMemory());

    static int seriesLimit(long maxHeap) {
        return (int) Math.max(2_000, Math.min(100_000, maxHeap / (48 * 1024)));
    }

    private final OpenTelemetrySdk sdk;
    private final PrometheusHttpServer prometheus;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final Console console;
    private final RuntimeMetrics runtime;
    private volatile boolean closed;

    private Telemetry(OpenTelemetrySdk sdk, PrometheusHttpServer prometheus, boolean tracingOn, Console console) {
        this.sdk = sdk;
        this.prometheus = prometheus;
        this.console = console;
        this.metrics = new BrokerMetrics(sdk.getMeter("io.sluice"));
        Tracer tracer = tracingOn ? sdk.getTracer("io.sluice") : null;
        this.tracing = new Tracing(tracer);
        this.runtime = RuntimeMetrics.builder(sdk).disableAllFeatures().build();
    }

    /**
     * Starts the SDK and its exporters as {@code settings} say.
     *
     * @throws IllegalStateException naming the metrics port when it cannot be listened on
     */
    public static Telemetry start(Settings settings, String version) {
        Resource resource = Resource.getDefault().merge(Resource.builder()
                .put("service.name", "sluice")
                .put("service.version", version)
                .build());
        SdkMeterProviderBuilder meters = SdkMeterProvider.builder().setResource(resource);
        PrometheusHttpServer prometheus = null;
        var console = new Console(version);
        if (settings.metricsPort() > 0) {
            var registry = new PrometheusRegistry();
            registry.register(() -> InfoSnapshot.builder().name("sluice_build")
                    .help("The running build: the version and the JVM's as labels")
                    .dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder()
                            .labels(Labels.of("version", version, "java_version", System.getProperty("java.version")))
                            .build())
                    .build());
            httpServerLimits();
            try {
                prometheus = PrometheusHttpServer.builder().setHost(settings.host()).setPort(settings.metricsPort())
                        .setExecutor(Executors.newThreadPerTaskExecutor(
                                Thread.ofVirtual().name("metrics-http-", 0).factory()))
                        .setMemoryMode(MemoryMode.IMMUTABLE_DATA)   // scrapes may now run at once
                        .setPrometheusRegistry(registry)
                        .setOtelScopeLabelsEnabled(false)
                        .setDefaultHandler(console)
                        .setAuthenticator(new ReadOnly(settings.host()))
                        .build();
            } catch (UncheckedIOException e) {
                throw new IllegalStateException(portProblem("metrics", settings.host(), "--metrics-host or --host",
                        settings.metricsPort(), "--metrics-port", "SLUICE_METRICS_PORT",
                        "0 turns the metrics endpoint off", e), e);
            }
            meters.registerMetricReader(prometheus, instrument -> SERIES_LIMIT);
        }
        var processors = new ArrayList<>(settings.spanProcessors());
        String otlp = settings.otlpEndpoint();
        if (otlp != null && !otlp.isBlank()) {
            String base = otlp.endsWith("/") ? otlp.substring(0, otlp.length() - 1) : otlp;
            meters.registerMetricReader(PeriodicMetricReader.builder(
                            OtlpHttpMetricExporter.builder().setEndpoint(base + "/v1/metrics").build())
                    .setInterval(Duration.ofSeconds(10)).build(), instrument -> SERIES_LIMIT);
            processors.add(BatchSpanProcessor.builder(
                    OtlpHttpSpanExporter.builder().setEndpoint(base + "/v1/traces").build()).build());
            LOG.log(Level.INFO, "exporting metrics and traces over OTLP/HTTP to " + base);
        }
        var builder = OpenTelemetrySdk.builder().setMeterProvider(meters.build());
        if (!processors.isEmpty()) {
            SdkTracerProviderBuilder traces = SdkTracerProvider.builder().setResource(resource);
            processors.forEach(traces::addSpanProcessor);
            builder.setTracerProvider(traces.build());
        }
        return new Telemetry(builder.build(), prometheus, !processors.isEmpty(), console);
    }

    /**
     * The message for a port that cannot be listened on: which listener, which flag and variable
     * choose another, and which process holds the port when this one can see it.
     */
    public static String portProblem(String what, String host, String hostFlag, int port, String flag, String env,
                                     String zero, Exception e) {
        boolean inUse = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            // the JDK's BindException, or Netty's native one: "bind(..) failed with error(-98): Address already in use"
            inUse |= String.valueOf(t.getMessage()).contains("in use") && (t instanceof BindException
                    || String.valueOf(t.getMessage()).contains("Address already in use"));
        }
        if (!inUse) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            String why = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
            return "cannot listen for " + what + " on " + host + ":" + port + " (" + hostFlag + ", " + flag + "): "
                    + why;
        }
        String holder = PortHolder.describe(port);
        return "cannot listen for " + what + " on " + host + ":" + port + ": port " + port + " is already in use"
                + (holder.isEmpty() ? "" : " by " + holder) + "; stop that process or choose another port with "
                + flag + " (env " + env + "; " + zero + ")";
    }

    /** Adds gRPC's own call metrics (started calls; call duration by method and status) to the server. */
    public void instrument(ServerBuilder<?> server) {
        GrpcOpenTelemetry.newBuilder().sdk(sdk)
                .disableAllMetrics()
                .enableMetrics(java.util.List.of("grpc.server.call.started", "grpc.server.call.duration"))
                .build()
                .configureServerBuilder(server);
    }

    /** Seconds a connection of the metrics port may take to send its request, and to take its answer. */
    static final int HTTP_REQUEST_SECONDS = 5;
    static final int HTTP_ANSWER_SECONDS = 60;
    /** Connections the metrics port keeps open at once; more are closed as they arrive. */
    static final int HTTP_CONNECTIONS = 128;

    /**
     * The JDK's HTTP server under the metrics port reads a request on the thread of its exchange, for as
     * long as the client takes: a client that trickles its headers, or sends none, held the only thread
     * and no scrape was answered. Each exchange has a virtual thread of its own (see the executor above),
     * a connection that has not sent its request within {@link #HTTP_REQUEST_SECONDS} is closed, and at
     * most {@link #HTTP_CONNECTIONS} are open at once. These are the server's own settings, read when its
     * first instance is made, in the process (so whatever else makes one first calls this before); one the
     * operator set with {@code -D} is kept.
     */
    public static void httpServerLimits() {
        System.getProperties().putIfAbsent("sun.net.httpserver.maxReqTime", Integer.toString(HTTP_REQUEST_SECONDS));
        System.getProperties().putIfAbsent("sun.net.httpserver.maxRspTime", Integer.toString(HTTP_ANSWER_SECONDS));
        System.getProperties().putIfAbsent("sun.net.httpserver.maxConnections", Integer.toString(HTTP_CONNECTIONS));
    }

    /** The web console on the metrics port: answers 503 until the broker gives it its figures. */
    public Console console() {
        return console;
    }

    public BrokerMetrics metrics() {
        return metrics;
    }

    public Tracing tracing() {
        return tracing;
    }

    /** Flushes and stops the exporters. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        runtime.close();
        metrics.close();
        sdk.close();
        LOG.log(Level.DEBUG, "telemetry closed" + (prometheus != null ? " (metrics endpoint stopped)" : ""));
    }
}
