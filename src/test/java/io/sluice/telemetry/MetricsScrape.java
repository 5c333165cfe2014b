package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.Await;
import io.sluice.server.StreamClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.OptionalDouble;
import java.util.function.DoublePredicate;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a real broker's Prometheus endpoint (and its console's JSON) over HTTP, for tests. */
public final class MetricsScrape {
    private final HttpClient http = HttpClient.newHttpClient();
    private final int port;

    public MetricsScrape(int port) {
        this.port = port;
    }

    /** A port nothing listens on now: for a broker to bind, or a client to find no broker at. */
    public static int freePort() throws IOException {
        try (var socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** GET {@code path} on the metrics port; asserts 200 and answers the body. */
    public String get(String path) throws IOException, InterruptedException {
        var response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), path + " answered " + response.statusCode() + ": " + response.body());
        return response.body();
    }

    public String scrape() throws IOException, InterruptedException {
        return get("/metrics");
    }

    /** The value of the first sample of {@code name} whose labels contain every {@code labels} pair. */
    public static OptionalDouble sample(String body, String name, String... labels) {
        Pattern line = Pattern.compile("^" + Pattern.quote(name) + "(?:\\{([^}]*)\\})? (\\S+)", Pattern.MULTILINE);
        Matcher m = line.matcher(body);
        while (m.find()) {
            boolean all = true;
            for (int i = 0; i < labels.length; i += 2) {
                all &= m.group(1) != null && m.group(1).contains(labels[i] + "=\"" + labels[i + 1] + "\"");
            }
            if (all) {
                return OptionalDouble.of(Double.parseDouble(m.group(2)));
            }
        }
        return OptionalDouble.empty();
    }

    /** Scrapes until the sample satisfies {@code expected} (gauges are read at scrape time, counters after commit). */
    public double awaitSample(String name, DoublePredicate expected, String... labels)
            throws IOException, InterruptedException {
        String[] last = {""};
        awaitScrape(body -> {
            last[0] = body;
            OptionalDouble v = sample(body, name, labels);
            return v.isPresent() && expected.test(v.getAsDouble());
        }, name + " " + List.of(labels));
        return sample(last[0], name, labels).orElseThrow();
    }

    /** Scrapes until {@code done} holds for the body; answers that body. */
    public String awaitScrape(Predicate<String> done, String what) {
        String[] last = {""};
        Await.until(what, () -> {
            try {
                last[0] = scrape();
            } catch (IOException | InterruptedException e) {
                throw new AssertionError("scraping " + e, e);
            }
            return done.test(last[0]);
        }, () -> "; last scrape:\n" + last[0]);
        return last[0];
    }
}
