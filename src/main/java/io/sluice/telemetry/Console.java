package io.sluice.telemetry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The read-only web console on the metrics port, beside {@code /metrics}: a page ({@code /}, with
 * its script and style from the jar, no network needed) and the JSON it polls:
 * {@code /api/overview} (topics, groups, counters, broker figures) and
 * {@code /api/peek?topic=T&count=N} (a topic's last messages). Only GET and HEAD are answered;
 * nothing here changes the broker. Called on the metrics server's threads.
 */
public final class Console implements HttpHandler {
    /** Most messages one peek answers. */
    public static final int MAX_PEEK = 50;
    private static final Map<String, String> STATIC = Map.of(
            "/", "index.html",
            "/index.html", "index.html",
            "/console.js", "console.js",
            "/console.css", "console.css");

    private final String version;
    private final long startedAt = System.currentTimeMillis();
    private volatile ConsoleSource source;
    private volatile BrokerMetrics metrics;

    Console(String version) {
        this.version = version;
    }

    /** Starts answering the API from {@code source} and {@code metrics}; until then it answers 503. */
    public void attach(ConsoleSource source, BrokerMetrics metrics) {
        this.metrics = metrics;
        this.source = source;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                send(exchange, 405, "text/plain", "the console is read-only: GET and HEAD only\n");
                return;
            }
            String path = exchange.getRequestURI().getPath();
            String file = STATIC.get(path);
            if (file != null) {
                sendResource(exchange, file);
            } else if (path.equals("/api/overview") || path.equals("/api/peek")) {
                api(exchange, path);
            } else {
                send(exchange, 404, "text/plain", "no such page: " + path + " (try / or /metrics)\n");
            }
        }
    }

    private void api(HttpExchange exchange, String path) throws IOException {
        ConsoleSource s = source;
        BrokerMetrics m = metrics;
        if (s == null || m == null) {
            send(exchange, 503, "application/json", "{\"error\":\"the broker is starting\"}");
            return;
        }
        if (path.equals("/api/overview")) {
            String body;
            try {
                body = ConsoleJson.overview(version, startedAt, s, m);
            } catch (RuntimeException e) {
                send(exchange, 500, "application/json", "{\"error\":" + ConsoleJson.str(String.valueOf(e.getMessage())) + "}");
                return;
            }
            send(exchange, 200, "application/json", body);
            return;
        }
        Map<String, String> q = query(exchange.getRequestURI().getRawQuery());
        String topic = q.get("topic");
        if (topic == null || topic.isEmpty()) {
            send(exchange, 400, "application/json", "{\"error\":\"peek needs ?topic=NAME\"}");
            return;
        }
        try {
            io.sluice.domain.Names.topic(topic);
        } catch (io.sluice.domain.SluiceException e) {
            send(exchange, 400, "application/json", "{\"error\":" + ConsoleJson.str(e.getMessage()) + "}");
            return;
        }
        int count;
        try {
            count = Integer.parseInt(q.getOrDefault("count", "10"));
        } catch (NumberFormatException e) {
            count = -1;
        }
        if (count < 1 || count > MAX_PEEK) {
            send(exchange, 400, "application/json", "{\"error\":\"count must be 1-" + MAX_PEEK + "\"}");
            return;
        }
        String body;
        try {
            body = ConsoleJson.peek(topic, s.peek(topic, count));
        } catch (RuntimeException e) {
            // a damaged message or a failing read: say so instead of dropping the connection
            send(exchange, 500, "application/json", "{\"error\":" + ConsoleJson.str(String.valueOf(e.getMessage())) + "}");
            return;
        }
        send(exchange, 200, "application/json", body);
    }

    private static Map<String, String> query(String raw) {
        var out = new HashMap<String, String>();
        if (raw == null) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static void sendResource(HttpExchange exchange, String file) throws IOException {
        byte[] body;
        try (InputStream in = Console.class.getResourceAsStream("/io/sluice/console/" + file)) {
            if (in == null) {
                send(exchange, 500, "text/plain", "the console's " + file + " is missing from the jar\n");
                return;
            }
            body = in.readAllBytes();
        }
        String type = file.endsWith(".html") ? "text/html; charset=utf-8"
                : file.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
        send(exchange, 200, type, body);
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        send(exchange, status, type.contains("charset") ? type : type + "; charset=utf-8",
                body.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        exchange.getResponseHeaders().set("Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
