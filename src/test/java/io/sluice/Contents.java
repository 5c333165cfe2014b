package io.sluice;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Channel;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.Topic;
import io.sluice.server.StreamClient;
import io.sluice.store.StoreOptions;
import io.sluice.store.StoredMessage;
import io.sluice.store.TopicInfo;
import io.sluice.store.sqlite.SqliteStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Every message a broker holds, by topic in sequence order: read from its data directory, or served by it. */
public final class Contents {
    private Contents() {
    }

    /** Opens the data directory with the real store (the broker must be stopped) and reads every topic. */
    public static Map<String, List<Ledger.Seen>> ofDataDir(Path data) {
        var out = new LinkedHashMap<String, List<Ledger.Seen>>();
        try (SqliteStore store = SqliteStore.open(data, StoreOptions.defaults())) {
            for (TopicInfo topic : store.topics()) {
                var seen = new ArrayList<Ledger.Seen>();
                long after = 0;
                while (true) {
                    List<StoredMessage> page = store.read(topic.name(), after, 1000);
                    if (page.isEmpty()) {
                        break;
                    }
                    for (StoredMessage m : page) {
                        seen.add(new Ledger.Seen(topic.name(), m.sequence(), m.id().toString(), m.payload(),
                                m.attributes()));
                        after = m.sequence();
                    }
                }
                out.put(topic.name(), seen);
            }
        }
        return out;
    }

    /**
     * What a live broker serves: every topic read from its first message to the last sequence its
     * stats report, through a BROWSE Subscribe stream (which never moves a cursor).
     */
    public static Map<String, List<Ledger.Seen>> served(Channel channel) throws InterruptedException {
        var stub = SluiceGrpc.newBlockingStub(channel);
        var out = new LinkedHashMap<String, List<Ledger.Seen>>();
        for (Topic topic : stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                .listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList()) {
            var stats = stub.withDeadlineAfter(30, TimeUnit.SECONDS).getTopicStats(
                    GetTopicStatsRequest.newBuilder().addTopics(topic.getName()).build()).getStats(0);
            var seen = new ArrayList<Ledger.Seen>();
            if (stats.getTotalMessages() > 0) {
                try (var stream = StreamClient.browse(SluiceGrpc.newStub(channel), topic.getName(),
                        InitialPosition.EARLIEST, 0)) {
                    stream.credit(Integer.MAX_VALUE);
                    long last = 0;
                    while (last < stats.getLastSequence()) {
                        MessageDelivery d = stream.delivery();
                        seen.add(new Ledger.Seen(topic.getName(), d.getSequence(), d.getMessageId(), d.getPayload(),
                                d.getAttributesMap()));
                        last = d.getSequence();
                    }
                }
            }
            assertEquals(stats.getTotalMessages(), seen.size(), "messages served from " + topic.getName());
            out.put(topic.getName(), seen);
        }
        return out;
    }
}
