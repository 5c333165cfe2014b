package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What bounds the console's answers and the metrics' series, whatever the broker holds. */
class ConsoleJsonLimitsTest {
    private static ConsoleSource.Group group(String name) {
        return new ConsoleSource.Group(name, 0, 0, 0, false, "exclusive", 0, 0, 0, 0);
    }

    @Test
    void theOverviewListsTheFirstTopicsAndGroupsAndCountsThemAll() {
        var topics = new ArrayList<ConsoleSource.Topic>();
        for (int t = 0; t < ConsoleJson.MAX_TOPICS + 5; t++) {
            var groups = new ArrayList<ConsoleSource.Group>();
            for (int g = 0; g < (t == 0 ? ConsoleJson.MAX_GROUPS + 7 : 1); g++) {
                groups.add(group("g" + g));
            }
            topics.add(new ConsoleSource.Topic(String.format("t%05d", t), 0, 0, 0, 0, 0, groups, 0, 0, "none"));
        }
        ConsoleSource source = new ConsoleSource() {
            @Override
            public List<Topic> topics() {
                return topics;
            }

            @Override
            public List<Peeked> peek(String topic, int count) {
                return List.of();
            }

            @Override
            public Map<String, Long> broker() {
                return Map.of();
            }
        };
        var metrics = new BrokerMetrics(SdkMeterProvider.builder().build().get("test"));
        String json = ConsoleJson.overview("v", 0, source, metrics);
        assertTrue(json.contains("\"name\":\"t00999\""), "the 1,000th topic is listed");
        assertFalse(json.contains("\"name\":\"t01000\""), "the 1,001st is not");
        assertTrue(json.contains("\"topics_total\":" + (ConsoleJson.MAX_TOPICS + 5)));
        assertTrue(json.contains("\"groups_total\":" + (ConsoleJson.MAX_GROUPS + 7)));
        assertTrue(json.contains("\"name\":\"g99\"") && !json.contains("\"name\":\"g100\""), "100 groups listed");
    }

    @Test
    void aPeekedMessageShowsItsFirstAttributesAndHowManyItHas() {
        var attributes = new LinkedHashMap<String, String>();
        for (int i = 0; i < 1_000; i++) {
            attributes.put("k" + i, "v");
        }
        String json = ConsoleJson.peek("t", List.of(new ConsoleSource.Peeked(1, "id", 0, attributes, "p", 1, true)));
        assertTrue(json.contains("\"k31\":\"v\"") && !json.contains("\"k32\""), json.length() + " characters");
        assertTrue(json.contains("\"attributes_total\":1000"));
    }

    @Test
    void theSeriesLimitFollowsTheHeap() {
        assertEquals(2_000, Telemetry.seriesLimit(64L << 20), "never under the SDK's default");
        assertEquals(2_730, Telemetry.seriesLimit(128L << 20));
        assertEquals(10_922, Telemetry.seriesLimit(512L << 20));
        assertEquals(100_000, Telemetry.seriesLimit(8L << 30), "at most 100,000");
    }
}
