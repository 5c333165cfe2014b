package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.domain.SluiceException;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.server.StreamClient;
import io.sluice.server.TestBroker;
import io.sluice.store.Completion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

/**
 * Metrics that stay true at scale: thousands of groups keep one series each (the SDK's default limit
 * of 2,000 folded the rest into one overflow series), and deleted topics and groups leave /metrics.
 */
class MetricsCardinalityTest {
    private static final int GROUPS = 3_000;
    private static final Pattern LAG = Pattern.compile("^sluice_subscription_lag\\{[^}]*group=\"(g\\d+)\"[^}]*\\} (\\S+)",
            Pattern.MULTILINE);

    @TempDir
    Path dir;

    private TestBroker broker;
    private MetricsScrape metrics;

    @BeforeEach
    void start() throws Exception {
        int port = MetricsScrape.freePort();
        metrics = new MetricsScrape(port);
        broker = TestBroker.start(dir, c -> c.withPorts(0, port));
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    @Test
    void threeThousandGroupsKeepTheirOwnLagSeries() throws Exception {
        var client = broker.blocking();
        long last = 0;
        for (int i = 0; i < 5; i++) {
            last = client.publish(PublishRequest.newBuilder().setTopic("wide")
                    .setPayload(ByteString.copyFromUtf8("m" + i)).build()).getSequence();
        }
        // Group i's cursor at (i % 5): lag last - (i % 5). Queued together, committed in a few transactions.
        var done = new CountDownLatch(GROUPS);
        var failure = new AtomicReference<SluiceException>();
        for (int i = 0; i < GROUPS; i++) {
            broker.server().store().resetCursor("wide", "g" + i, i % 5, new Completion<>() {
                @Override
                public void committed(Boolean result) {
                    done.countDown();
                }

                @Override
                public void failed(SluiceException error) {
                    failure.set(error);
                    done.countDown();
                }
            });
        }
        assertTrue(done.await(StreamClient.WAIT.toSeconds(), TimeUnit.SECONDS), "cursors committed");
        assertEquals(null, failure.get());

        String body = metrics.scrape();
        var seen = new HashSet<String>();
        var m = LAG.matcher(body);
        while (m.find()) {
            int group = Integer.parseInt(m.group(1).substring(1));
            assertEquals((double) (last - group % 5), Double.parseDouble(m.group(2)), "lag of " + m.group(1));
            assertTrue(seen.add(m.group(1)), "one series per group: " + m.group(1));
        }
        assertEquals(GROUPS, seen.size(), "every group's lag is its own series");
        assertFalse(body.contains("otel_metric_overflow"), "nothing folded into the overflow series");
    }

    @Test
    void deletedTopicsAndGroupsLeaveTheScrape() throws Exception {
        var client = broker.blocking();
        for (String topic : new String[] {"doomed", "kept"}) {
            client.publish(PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFromUtf8("x")).build());
            for (String group : new String[] {"stays", "goes"}) {
                var s = StreamClient.group(broker.async(), topic, group, InitialPosition.EARLIEST);
                s.credit(1);
                s.ack(s.delivery().getMessageId());
                metrics.awaitSample("sluice_acked_total", v -> v == 1.0, "topic", topic, "group", group);
                s.cancel();
            }
        }

        client.deleteTopic(DeleteTopicRequest.newBuilder().setTopic("doomed").build());
        client.deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder().setTopic("kept").setConsumerGroup("goes").build());

        String[] kept = {"sluice_publish_total", "sluice_delivered_total", "sluice_acked_total",
                "sluice_subscription_lag"};
        String body = metrics.awaitScrape(b -> !b.contains("topic=\"doomed\"") && !b.contains("group=\"goes\"")
                        && java.util.Arrays.stream(kept).allMatch(n -> MetricsScrape.sample(b, n, "topic", "kept")
                        .isPresent()),
                "the deleted topic's and group's series gone, the kept topic's there");
        for (String name : kept) {
            assertTrue(MetricsScrape.sample(body, name, "topic", "kept").isPresent(), name + " of the kept topic");
        }
        assertEquals(1.0, MetricsScrape.sample(body, "sluice_acked_total", "topic", "kept", "group", "stays")
                .orElseThrow());
    }
}
