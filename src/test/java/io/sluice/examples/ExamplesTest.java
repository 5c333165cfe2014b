package io.sluice.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.client.SluiceClient;
import io.sluice.client.TopicStats;
import io.sluice.server.TestBroker;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The programs in examples/ compile with the build and do what they say against a real broker. */
class ExamplesTest {
    @TempDir
    Path dir;

    @Test
    void thePublishAndSubscribeExamplesRunAgainstABroker() throws Exception {
        try (TestBroker broker = TestBroker.start(dir)) {
            String target = "127.0.0.1:" + broker.port();
            PublishExample.run(target);
            SubscribeExample.run(target, 3);
            SubscribeExample.run(target, 1);   // resumes after the third: the fourth

            try (var client = SluiceClient.connect(target)) {
                TopicStats orders = client.stats("orders").getFirst();
                assertEquals(4, orders.totalMessages());
                TopicStats.GroupStats shipping = orders.groups().getFirst();
                assertEquals("shipping", shipping.group());
                assertEquals(orders.lastSequence(), shipping.cursor());
                assertEquals(0, shipping.pending());
            }
        }
    }
}
