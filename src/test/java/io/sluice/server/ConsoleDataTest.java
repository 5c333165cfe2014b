package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.store.TopicConfig;
import org.junit.jupiter.api.Test;

/** The console's retention wording: every limit named, ages in their largest whole unit. */
class ConsoleDataTest {

    @Test
    void retentionNamesEveryLimitAndThePolicy() {
        assertEquals("none", ConsoleData.describe(TopicConfig.unlimited()));
        assertEquals("10 messages, 1048576 B, 90 min, discard new", ConsoleData.describe(
                new TopicConfig(90 * 60_000L, 1L << 20, 10, TopicConfig.Discard.NEW, 0)));
        assertEquals("2 h, discard old", ConsoleData.describe(
                new TopicConfig(7_200_000L, 0, 0, TopicConfig.Discard.OLD, 0)));
    }

    @Test
    void agesUseTheLargestWholeUnit() {
        assertEquals("7 d", ConsoleData.age(7 * 86_400_000L));
        assertEquals("45 s", ConsoleData.age(45_000));
        assertEquals("1.5 s", ConsoleData.age(1_500));
        assertEquals("250 ms", ConsoleData.age(250));
    }
}
