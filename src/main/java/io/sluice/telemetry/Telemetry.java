package io.sluice.telemetry;

import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The OpenTelemetry SDK as the broker uses it. Meters are read by the Prometheus HTTP exporter on
 * the metrics port ({@code /metrics}; none when the port is 0) and, with an OTLP endpoint, pushed
 * there every 10 s together with the traces (OTLP over HTTP through the JDK's HttpClient). Without
 * an OTLP endpoint or extra span processor, tracing is off and costs nothing.
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

    private final OpenTelemetrySdk sdk;
    private final PrometheusHttpServer prometheus;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private volatile boolean closed;

    private Telemetry(OpenTelemetrySdk sdk, PrometheusHttpServer prometheus, boolean tracingOn) {
        this.sdk = sdk;
        this.prometheus = prometheus;
        this.metrics = new BrokerMetrics(sdk.getMeter("io.sluice"));
        Tracer tracer = tracingOn ? sdk.getTracer("io.sluice") : null;
        this.tracing = new Tracing(tracer);
    }

    /** Starts the SDK and its exporters as {@code settings} say. */
    public static Telemetry start(Settings settings, String version) {
        Resource resource = Resource.getDefault().merge(Resource.builder()
                .put("service.name", "sluice")
                .put("service.version", version)
                .build());
        SdkMeterProviderBuilder meters = SdkMeterProvider.builder().setResource(resource);
        PrometheusHttpServer prometheus = null;
        if (settings.metricsPort() > 0) {
            prometheus = PrometheusHttpServer.builder().setHost(settings.host()).setPort(settings.metricsPort()).build();
            meters.registerMetricReader(prometheus);
        }
        var processors = new ArrayList<>(settings.spanProcessors());
        String otlp = settings.otlpEndpoint();
        if (otlp != null && !otlp.isBlank()) {
            String base = otlp.endsWith("/") ? otlp.substring(0, otlp.length() - 1) : otlp;
            meters.registerMetricReader(PeriodicMetricReader.builder(
                            OtlpHttpMetricExporter.builder().setEndpoint(base + "/v1/metrics").build())
                    .setInterval(Duration.ofSeconds(10)).build());
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
        var telemetry = new Telemetry(builder.build(), prometheus, !processors.isEmpty());
        telemetry.metrics.buildInfo(version);
        return telemetry;
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
        metrics.close();
        sdk.close();
        LOG.log(Level.DEBUG, "telemetry closed" + (prometheus != null ? " (metrics endpoint stopped)" : ""));
    }
}
