package io.sluice.telemetry;

import java.util.List;
import java.util.Map;

/**
 * The console's JSON. What Sluice does not count (per-topic sizes on disk) is listed under
 * {@code "absent"}, never filled with made-up numbers. A group's {@code redelivered} and
 * {@code dead_lettered} come from the store (since the group was created); {@code delivered},
 * {@code acked} and {@code nacked} from this process's counters (since it started).
 */
final class ConsoleJson {
    static final List<String> ABSENT = List.of(
            "per-topic size on disk (the payload and attribute bytes are known, not the pages they take)");

    private ConsoleJson() {
    }

    /** Topics the overview lists (in name order), and groups of each: the totals count the rest. */
    static final int MAX_TOPICS = 1_000;
    static final int MAX_GROUPS = 100;
    /** Attributes a peeked message shows. */
    static final int MAX_ATTRIBUTES = 32;

    static String overview(String version, long startedAt, ConsoleSource source, BrokerMetrics metrics) {
        var b = new StringBuilder(4096);
        long[] commits = metrics.commitTotals();
        Map<String, Long> published = metrics.publishedByTopic();
        long publishedTotal = 0;
        long deliveredTotal = 0;
        b.append("{\"version\":").append(str(version))
                .append(",\"started_at\":").append(startedAt)
                .append(",\"now\":").append(System.currentTimeMillis())
                .append(",\"commits\":").append(commits[0])
                .append(",\"commit_nanos\":").append(commits[1])
                .append(",\"broker\":{");
        boolean first = true;
        for (var e : source.broker().entrySet()) {
            b.append(first ? "" : ",").append(str(e.getKey())).append(':').append(e.getValue());
            first = false;
        }
        b.append("},\"topics\":[");
        first = true;
        int topics = 0;
        for (ConsoleSource.Topic t : source.topics()) {
            long pub = published.getOrDefault(t.name(), 0L);
            publishedTotal += pub;
            Map<String, BrokerMetrics.GroupCounts> counts = metrics.groupCounts(t.name());
            if (++topics > MAX_TOPICS) {   // counted in the totals, not listed
                deliveredTotal += counts.values().stream().mapToLong(BrokerMetrics.GroupCounts::delivered).sum();
                continue;
            }
            b.append(first ? "" : ",").append("{\"name\":").append(str(t.name()))
                    .append(",\"messages\":").append(t.messages())
                    .append(",\"first_sequence\":").append(t.firstSequence())
                    .append(",\"last_sequence\":").append(t.lastSequence())
                    .append(",\"last_timestamp\":").append(t.lastTimestamp())
                    .append(",\"created_at\":").append(t.createdAt())
                    .append(",\"bytes\":").append(t.bytes())
                    .append(",\"discarded\":").append(t.discarded())
                    .append(",\"retention\":").append(str(t.retention()))
                    .append(",\"published\":").append(pub)
                    .append(",\"groups\":[");
            first = false;
            boolean firstGroup = true;
            int groups = 0;
            for (ConsoleSource.Group g : t.groups()) {
                var c = counts.getOrDefault(g.name(), new BrokerMetrics.GroupCounts(0, 0, 0, 0));
                deliveredTotal += c.delivered();
                if (++groups > MAX_GROUPS) {
                    continue;
                }
                b.append(firstGroup ? "" : ",").append("{\"name\":").append(str(g.name()))
                        .append(",\"cursor\":").append(g.cursor())
                        .append(",\"lag\":").append(g.pending())
                        .append(",\"pending\":").append(g.pending())
                        .append(",\"last_ack_at\":").append(g.lastAckAt())
                        .append(",\"live\":").append(g.live())
                        .append(",\"mode\":").append(str(g.mode()))
                        .append(",\"in_flight\":").append(g.inFlight())
                        .append(",\"oldest_unacked_at\":").append(g.oldestUnackedAt())
                        .append(",\"dead_lettered\":").append(g.deadLettered())
                        .append(",\"redelivered\":").append(g.redelivered())
                        .append(",\"delivered\":").append(c.delivered())
                        .append(",\"acked\":").append(c.acked())
                        .append(",\"nacked\":").append(c.nacked())
                        .append('}');
                firstGroup = false;
            }
            var browse = counts.get(BrokerMetrics.BROWSE);
            if (browse != null) {
                deliveredTotal += browse.delivered();
            }
            b.append("],\"groups_total\":").append(groups)
                    .append(",\"browsed\":").append(browse == null ? 0 : browse.delivered()).append('}');
        }
        b.append("],\"topics_total\":").append(topics)
                .append(",\"published\":").append(publishedTotal)
                .append(",\"delivered\":").append(deliveredTotal)
                .append(",\"absent\":[");
        for (int i = 0; i < ABSENT.size(); i++) {
            b.append(i == 0 ? "" : ",").append(str(ABSENT.get(i)));
        }
        return b.append("]}").toString();
    }

    static String peek(String topic, List<ConsoleSource.Peeked> messages) {
        var b = new StringBuilder(1024).append("{\"topic\":").append(str(topic)).append(",\"messages\":[");
        boolean first = true;
        for (ConsoleSource.Peeked m : messages) {
            b.append(first ? "" : ",").append("{\"sequence\":").append(m.sequence())
                    .append(",\"id\":").append(str(m.id()))
                    .append(",\"timestamp\":").append(m.timestamp())
                    .append(",\"payload_bytes\":").append(m.payloadBytes())
                    .append(",\"text\":").append(m.text())
                    .append(",\"payload\":").append(str(m.payload()))
                    .append(",\"attributes\":{");
            boolean firstAttribute = true;
            int shown = 0;
            for (var e : m.attributes().entrySet()) {
                if (++shown > MAX_ATTRIBUTES) {
                    break;
                }
                b.append(firstAttribute ? "" : ",").append(str(e.getKey())).append(':').append(str(e.getValue()));
                firstAttribute = false;
            }
            b.append("},\"attributes_total\":").append(m.attributes().size()).append('}');
            first = false;
        }
        return b.append("]}").toString();
    }

    /** A JSON string literal safe inside the console's page. */
    static String str(String s) {
        return JsonText.quote(s, true);
    }
}
