package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sluice.Cursors;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import io.sluice.proto.SubscriptionMode;
import io.sluice.store.StoreOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * SPEC §7 "Replay by time": a new group or a browser starting at TIMESTAMP, and ResetCursor by
 * timestamp_ms, land on the first message stamped at or after the time (other topics' messages
 * interleaved, so the topic's sequences have gaps).
 */
class ReplayByTimeTest {
    private static final long T0 = 1_800_000_000_000L;

    @TempDir
    Path dir;

    private TestBroker broker;
    private final AtomicLong clock = new AtomicLong(T0);
    private final List<StreamClient> streams = new ArrayList<>();
    private final List<PublishResponse> published = new ArrayList<>();

    @BeforeEach
    void publishOneASecond() {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withClock(clock::get)));
        for (int i = 0; i < 50; i++) {
            published.add(broker.blocking().publish(PublishRequest.newBuilder().setTopic("events")
                    .setPayload(ByteString.copyFromUtf8("e" + i)).build()));
            broker.blocking().publish(PublishRequest.newBuilder().setTopic("noise")
                    .setPayload(ByteString.copyFromUtf8("n" + i)).build());
            clock.addAndGet(1_000);
        }
    }

    @AfterEach
    void stop() throws InterruptedException {
        streams.forEach(StreamClient::close);
        broker.close();
    }

    @Test
    void aNewGroupStartsAtTheFirstMessageAtOrAfterTheTime() throws Exception {
        assertEquals("e17", firstFrom(T0 + 17_000, "exact"), "a message stamped at the time is included");
        assertEquals("e18", firstFrom(T0 + 17_001, "between"), "else the next one");
        assertEquals("e0", firstFrom(T0 - 99_000, "before"), "a time before the topic: from its first message");
        var after = group(T0 + 500_000, "after");
        after.credit(1);
        after.expectHeartbeatWithoutDelivery(0);
        PublishResponse late = broker.blocking().publish(PublishRequest.newBuilder().setTopic("events")
                .setPayload(ByteString.copyFromUtf8("late")).build());
        assertEquals(late.getSequence(), after.delivery().getSequence(), "a time past the end: the next message");
    }

    @Test
    void aBrowserStartsAtTheTimeToo() throws Exception {
        var browser = track(StreamClient.open(broker.async()));
        browser.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("events")
                .setMode(SubscriptionMode.BROWSE).setInitialPosition(InitialPosition.TIMESTAMP)
                .setStartTimestampMs(T0 + 42_000)).build());
        browser.credit(1);
        assertEquals("e42", browser.delivery().getPayload().toStringUtf8());
    }

    @Test
    void resetCursorByTimeMovesJustBeforeTheFirstMessageAtOrAfterIt() throws Exception {
        var g = group(T0, "g");
        g.credit(1);
        assertEquals("e0", g.delivery().getPayload().toStringUtf8());
        g.close();
        assertTrue(broker.blocking().resetCursor(ResetCursorRequest.newBuilder().setTopic("events")
                .setConsumerGroup("g").setSequence(999_999).setTimestampMs(T0 + 30_000).build()).getUpdated(),
                "sequence is ignored when timestamp_ms is set");
        assertEquals(published.get(30).getSequence() - 1, Cursors.of(broker.blocking(), "events", "g"),
                "just before e30 (sequences are shared by all topics: e29 is further back)");
        var again = track(StreamClient.group(broker.async(), "events", "g", InitialPosition.EARLIEST));
        again.credit(1);
        assertEquals("e30", again.delivery().getPayload().toStringUtf8());
    }

    private String firstFrom(long millis, String group) throws InterruptedException {
        var s = group(millis, group);
        s.credit(1);
        return s.delivery().getPayload().toStringUtf8();
    }

    private StreamClient group(long millis, String group) {
        var s = track(StreamClient.open(broker.async()));
        s.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("events")
                .setConsumerGroup(group).setInitialPosition(InitialPosition.TIMESTAMP).setStartTimestampMs(millis))
                .build());
        return s;
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }
}
