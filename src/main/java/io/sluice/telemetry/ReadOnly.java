package io.sluice.telemetry;

import com.sun.net.httpserver.Authenticator;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;

/**
 * Turns away every request of the metrics port but GET and HEAD with 405, before any handler: the
 * Prometheus exporter's {@code /metrics} answers whatever method it is sent, and nothing on this
 * port changes anything. (It runs where an authenticator would, the one hook the exporter offers.)
 */
final class ReadOnly extends Authenticator {
    private static final HttpPrincipal ANYONE = new HttpPrincipal("anyone", "metrics");

    @Override
    public Result authenticate(HttpExchange exchange) {
        String method = exchange.getRequestMethod();
        if (method.equals("GET") || method.equals("HEAD")) {
            return new Success(ANYONE);
        }
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        return new Failure(405);
    }
}
