package io.sluice.telemetry;

import com.sun.net.httpserver.Authenticator;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;
import java.net.InetAddress;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Lets GET and HEAD through to the metrics port's handlers and answers every other method 405 with
 * {@code Allow: GET, HEAD}, before any handler runs: {@code /metrics} and the console are read-only.
 * On a loopback address it also answers 403 to a request addressed (its {@code Host}) to any name but
 * {@code localhost} or a loopback address: a web page whose own name the attacker has made resolve to
 * 127.0.0.1 (DNS rebinding) would otherwise read the console's payloads from the operator's browser.
 */
final class ReadOnly extends Authenticator {
    private static final HttpPrincipal ANYONE = new HttpPrincipal("anyone", "metrics");
    private static final Pattern LOOPBACK = Pattern.compile(
            "(localhost|127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|\\[::1\\]|\\[0*:(0*:){0,6}0*1\\])(:\\d{1,5})?");

    private final boolean loopbackOnly;

    /** {@code host}: the address the metrics port listens on. */
    ReadOnly(String host) {
        boolean loopback;
        try {
            loopback = InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            loopback = false;
        }
        this.loopbackOnly = loopback;
    }

    @Override
    public Result authenticate(HttpExchange exchange) {
        String method = exchange.getRequestMethod();
        if (!method.equals("GET") && !method.equals("HEAD")) {
            exchange.getResponseHeaders().set("Allow", "GET, HEAD");
            return new Failure(405);
        }
        if (loopbackOnly) {
            String addressedTo = exchange.getRequestHeaders().getFirst("Host");
            if (addressedTo == null || !LOOPBACK.matcher(addressedTo.trim().toLowerCase(Locale.ROOT)).matches()) {
                return new Failure(403);
            }
        }
        return new Success(ANYONE);
    }
}
