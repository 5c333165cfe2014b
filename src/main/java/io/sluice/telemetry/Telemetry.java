package io.sluice.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.resources.Resource;
import java.lang.System.Logger.Level;

/**
 * The OpenTelemetry SDK as the broker uses it: meters read by the Prometheus HTTP exporter on the
 * metrics port ({@code /metrics}), or by nothing when the port is 0. Owns the exporter's server.
 */
public final class Telemetry implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Telemetry.class.getName());

    private final OpenTelemetrySdk sdk;
    private final PrometheusHttpServer prometheus;
    private final BrokerMetrics metrics;
    private volatile boolean closed;

    private Telemetry(OpenTelemetrySdk sdk, PrometheusHttpServer prometheus) {
        this.sdk = sdk;
        this.prometheus = prometheus;
        this.metrics = new BrokerMetrics(sdk.getMeter("io.sluice"));
    }

    /** Starts the SDK; with {@code metricsPort > 0} also the Prometheus endpoint on {@code host:metricsPort}. */
    public static Telemetry start(String host, int metricsPort, String version) {
        Resource resource = Resource.getDefault().merge(Resource.builder()
                .put("service.name", "sluice")
                .put("service.version", version)
                .build());
        SdkMeterProviderBuilder meters = SdkMeterProvider.builder().setResource(resource);
        PrometheusHttpServer prometheus = null;
        if (metricsPort > 0) {
            prometheus = PrometheusHttpServer.builder().setHost(host).setPort(metricsPort).build();
            meters.registerMetricReader(prometheus);
        }
        var sdk = OpenTelemetrySdk.builder().setMeterProvider(meters.build()).build();
        var telemetry = new Telemetry(sdk, prometheus);
        telemetry.metrics.buildInfo(version);
        return telemetry;
    }

    public OpenTelemetry openTelemetry() {
        return sdk;
    }

    public BrokerMetrics metrics() {
        return metrics;
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
