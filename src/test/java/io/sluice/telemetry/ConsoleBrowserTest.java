package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Await;
import io.sluice.proto.ConfigureTopicRequest;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.TopicConfig;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console end to end: a real broker, its metrics port, and headless Chromium loading the
 * page. The page must show a topic the test published with its retention, a shared group's mode and
 * its in-flight and dead-lettered counts, and its chart must move as messages arrive.
 * The screenshot is kept as target/console/console.png.
 */
class ConsoleBrowserTest {
    static final Path SCREENSHOT = Path.of("target", "console", "console.png");

    @TempDir
    Path dir;

    private TestBroker broker;
    private int port;
    private int next;

    @BeforeAll
    static void chromium() throws Exception {
        String missing = Chromium.ensureInstalled();
        Assumptions.assumeTrue(missing == null, () -> "skipped: " + missing);
    }

    @BeforeEach
    void start() throws Exception {
        port = MetricsScrape.freePort();
        broker = TestBroker.start(dir.resolve("data"), c -> c.withPorts(0, port));
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    @Test
    void thePageShowsTopicsAndItsChartMoves() throws Exception {
        var client = broker.blocking();
        client.configureTopic(ConfigureTopicRequest.newBuilder().setTopic("console-e2e").setConfig(TopicConfig
                .newBuilder().setMaxMessages(100_000).setMaxAgeMs(7 * 86_400_000L)).build());
        publish(client, 3);
        // A shared group holding one message unacknowledged and having dead-lettered another.
        var config = ConsumerGroupConfig.newBuilder().setDeadLetterTopic("console-e2e.dlq").setAckWaitMs(600_000)
                .build();
        try (StreamClient workers = StreamClient.shared(broker.async(), "console-e2e", "workers", config);
             Chromium page = Chromium.open(dir.resolve("profile"), "http://127.0.0.1:" + port + "/")) {
            workers.credit(2);
            workers.term(workers.delivery().getMessageId(), "rejected by the test");
            workers.delivery();

            await(page, "document.title", "\"Sluice console\"");
            await(page, "document.querySelector('#topics tr[data-topic=\"console-e2e\"] td:nth-child(2)')"
                    + "?.textContent", "\"3\"");
            await(page, "document.getElementById('status').textContent", "\"live\"");
            await(page, "document.querySelector('#topics tr[data-topic=\"console-e2e\"] td.retention')"
                    + "?.textContent", "\"100000 messages, 7 d, discard old\"");
            String row = "document.querySelector('#groups tr[data-group=\"workers\"] td.";
            await(page, row + "mode')?.textContent", "\"shared\"");
            await(page, row + "dead-lettered')?.textContent", "\"1\"");
            await(page, row + "in-flight')?.textContent", "\"1\"");

            // Messages keep arriving while the page polls: the chart gains samples and shows a rate.
            int before = Integer.parseInt(page.eval("document.getElementById('rates').dataset.samples")
                    .replace("\"", ""));
            awaitTrue(page, () -> {
                publish(client, 20);
                String last = page.eval("document.getElementById('rates').dataset.last || '[0]'");
                String samples = page.eval("Number(document.getElementById('rates').dataset.samples)");
                return Integer.parseInt(samples) >= before + 2 && publishRate(last) > 0;
            }, "the chart shows a publish rate");

            page.eval("document.querySelector('#topics tr[data-topic=\"console-e2e\"] button').click()");
            await(page, "document.querySelector('#peek tbody tr:last-child td.payload')?.textContent",
                    "\"message " + (next - 1) + "\"");
            page.screenshot(SCREENSHOT);
        }
        assertTrue(java.nio.file.Files.size(SCREENSHOT) > 10_000, "a screenshot of the page");
    }

    private void publish(io.sluice.proto.SluiceGrpc.SluiceBlockingStub client, int n) {
        for (int i = 0; i < n; i++) {
            client.publish(PublishRequest.newBuilder().setTopic("console-e2e")
                    .setPayload(ByteString.copyFromUtf8("message " + next++)).build());
        }
    }

    /** The publish rate (the first series) in the chart's last sample: "[12.5,3]" gives 12.5. */
    private static double publishRate(String last) {
        String inner = last.replace("\"", "").replace("[", "").replace("]", "");
        String first = inner.split(",")[0];
        return first.isEmpty() || first.equals("null") ? 0 : Double.parseDouble(first);
    }

    private static void await(Chromium page, String expression, String expected) throws Exception {
        String[] last = {""};
        awaitTrue(page, () -> {
            last[0] = page.eval(expression);
            return last[0].equals(expected);
        }, expression + " == " + expected + " (last: " + last[0] + ")");
        assertEquals(expected, last[0]);
    }

    private static void awaitTrue(Chromium page, Callable<Boolean> condition, String what) throws Exception {
        try {
            // The page polls every 2 s; checked every 200 ms, no timing is asserted.
            Await.until(what, Duration.ofMillis(200), () -> {
                try {
                    return condition.call();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, () -> "");
        } catch (AssertionError e) {
            page.screenshot(SCREENSHOT);
            throw new AssertionError(e.getMessage() + "; screenshot in " + SCREENSHOT.toAbsolutePath(), e);
        }
    }
}
