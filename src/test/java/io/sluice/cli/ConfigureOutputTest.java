package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.proto.GetTopicStatsRequest;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** topic configure and group configure print the settings in force, durations as a user types them. */
class ConfigureOutputTest extends CliCase {
    /** The dedup window the broker stored for {@code topic}, read from its stats over raw gRPC. */
    private long storedDedupWindowMillis(String topic) {
        return cli.broker.blocking().getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build())
                .getStats(0).getConfig().getDedupWindowMs();
    }

    @Test
    void topicConfigureShowsTheDedupWindowInForceAndSaysWhenItWasClamped() {
        Cli.Run clamped = cli.run("topic", "configure", "full3", "--max-age", "1s", "--dedup-window", "1h").ok();
        assertEquals("created topic full3: max age 1s, max bytes none, max messages none, discard old, dedup window 1s "
                + "(clamped from the 1h asked: a dedup window is never longer than the max age)",
                clamped.out().strip());
        assertEquals(1000, storedDedupWindowMillis("full3"), "what the broker stored, as printed");

        Cli.Run week = cli.run("topic", "configure", "week", "--max-age", "7d", "--dedup-window", "6h").ok();
        assertEquals("created topic week: max age 7d, max bytes none, max messages none, discard old, dedup window 6h",
                week.out().strip());
        assertEquals(Duration.ofHours(6).toMillis(), storedDedupWindowMillis("week"));

        Cli.Run again = cli.run("topic", "configure", "week", "--max-age", "PT90S", "--dedup-window", "250ms").ok();
        assertTrue(again.out().startsWith("configured topic week: max age 90s,"), again.out());
        assertTrue(again.out().strip().endsWith("dedup window 250ms"), again.out());
    }

    @Test
    void groupConfigurePrintsDurationsAsTyped() {
        Cli.Run r = cli.run("group", "configure", "jobs", "workers", "--shared", "--ack-wait", "90s", "--backoff",
                "500ms,2s,1h").ok();
        assertTrue(r.out().contains("ack wait 90s,"), r.out());
        assertTrue(r.out().contains("backoff [500ms, 2s, 1h]"), r.out());
    }

    @Test
    void durationsFormatInTheirLargestWholeUnit() {
        assertEquals("7d", Durations.format(Duration.ofHours(168)));
        assertEquals("6h", Durations.format(Duration.ofHours(6)));
        assertEquals("2m", Durations.format(Duration.ofSeconds(120)));
        assertEquals("1s", Durations.format(Duration.ofSeconds(1)));
        assertEquals("1500ms", Durations.format(Duration.ofMillis(1500)));
        assertEquals("0", Durations.format(Duration.ZERO));
        assertEquals("PT0.0000015S", Durations.format(Duration.ofNanos(1500)));
    }
}
