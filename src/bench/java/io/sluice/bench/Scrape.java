package io.sluice.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * The writer's counters read from the broker's Prometheus endpoint: {@code sluice_writer_batch_size}
 * (messages per commit that held messages) and {@code sluice_writer_commit_latency_seconds} (every
 * commit, acks included). Two scrapes make the figures of the time between them.
 */
record Scrape(long nanos, double batches, double messages, double commits, double commitSeconds) {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** Scrapes {@code url}; null when there is no endpoint or it does not answer. */
    static Scrape of(String url) {
        if (url == null) {
            return null;
        }
        try {
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                return null;
            }
            return parse(System.nanoTime(), response.body());
        } catch (IOException | IllegalArgumentException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The sum of a metric's series at {@code url} now; NaN when there is no endpoint or it does not answer. */
    static double value(String url, String name) {
        if (url == null) {
            return Double.NaN;
        }
        try {
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                return Double.NaN;
            }
            return sum(response.body(), name);
        } catch (IOException | IllegalArgumentException e) {
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
    }

    static Scrape parse(long nanos, String text) {
        return new Scrape(nanos,
                sum(text, "sluice_writer_batch_size_count"),
                sum(text, "sluice_writer_batch_size_sum"),
                sum(text, "sluice_writer_commit_latency_seconds_count"),
                sum(text, "sluice_writer_commit_latency_seconds_sum"));
    }

    /** The sum over every series of {@code name} (a histogram appears only after its first record: 0 then). */
    private static double sum(String text, String name) {
        double total = 0;
        for (String line : text.split("\n")) {
            if (!line.startsWith(name) || line.length() == name.length()) {
                continue;
            }
            char next = line.charAt(name.length());
            if (next != '{' && next != ' ') {
                continue;
            }
            // A series without labels has no '}': its value follows the name.
            int from = next == '{' ? line.lastIndexOf('}') + 1 : name.length();
            String[] parts = line.substring(from).strip().split("\\s+");
            try {
                total += Double.parseDouble(parts[0]);
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException ignored) {
                // not a sample line
            }
        }
        return total;
    }

    /** Commits with messages per second, messages per such commit, and mean commit time in ms, since {@code before}. */
    Writer since(Scrape before) {
        double seconds = (nanos - before.nanos) / 1e9;
        double batches = this.batches - before.batches;
        double commits = this.commits - before.commits;
        return new Writer(batches / seconds, batches > 0 ? (messages - before.messages) / batches : null,
                commits > 0 ? (commitSeconds - before.commitSeconds) / commits * 1000 : null);
    }

    /** The writer's figures over a window; null where there was no commit to measure. */
    record Writer(double commitsPerSecond, Double messagesPerCommit, Double commitMeanMillis) {
    }
}
