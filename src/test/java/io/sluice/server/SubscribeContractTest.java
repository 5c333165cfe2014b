package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.sluice.Cursors;
import io.sluice.Figures;
import io.sluice.delivery.Subscription;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Subscribe contract of SPEC §3 against a real broker, through real gRPC streams. Here one broker
 * on SQLite; subclasses run the same cases on other brokers ({@link #startBrokers}).
 */
class SubscribeContractTest {
    @TempDir
    Path dir;

    private List<TestBroker> brokers;
    /** Where the streams are opened. */
    private TestBroker broker;
    /** Where publishes and admin calls go (another broker when there are several). */
    private SluiceGrpc.SluiceBlockingStub client;
    private final List<StreamClient> streams = new ArrayList<>();

    /** The brokers under test: streams on the first, publishes and admin calls through the last. */
    List<TestBroker> startBrokers(Path dir) {
        return List.of(TestBroker.start(dir));
    }

    @BeforeEach
    void start() {
        brokers = startBrokers(dir);
        broker = brokers.getFirst();
        client = brokers.getLast().blocking();
    }

    @AfterEach
    void stop() throws InterruptedException {
        streams.forEach(StreamClient::close);
        for (TestBroker b : brokers) {
            b.close();
        }
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }

    private List<PublishResponse> publish(String topic, int n) {
        var out = new ArrayList<PublishResponse>();
        for (int i = 0; i < n; i++) {
            out.add(client.publish(PublishRequest.newBuilder().setTopic(topic)
                    .setPayload(ByteString.copyFromUtf8(topic + "-" + i)).putAttributes("i", "" + i).build()));
        }
        return out;
    }

    private StreamClient group(String topic, String group, InitialPosition start) {
        return track(StreamClient.group(broker.async(), topic, group, start));
    }

    private long cursorOf(String topic, String group) {
        return Cursors.of(client, topic, group);
    }

    /** Waits (with a deadline) until the group's persisted cursor reaches {@code sequence}. */
    private void awaitCursor(String topic, String group, long sequence) {
        Cursors.await(client, topic, group, sequence);
    }

    @Test
    void nothingIsDeliveredWithoutCredit() throws InterruptedException {
        var sent = publish("orders", 5);
        var s = group("orders", "g", InitialPosition.EARLIEST);
        s.expectHeartbeatWithoutDelivery(sent.getLast().getSequence());
    }

    @Test
    void exactlyNCreditsDeliverNMessagesInOrder() throws InterruptedException {
        var sent = publish("orders", 10);
        var s = group("orders", "g", InitialPosition.EARLIEST);
        s.credit(3);
        for (int i = 0; i < 3; i++) {
            MessageDelivery d = s.delivery();
            assertEquals(sent.get(i).getSequence(), d.getSequence());
            assertEquals(sent.get(i).getMessageId(), d.getMessageId());
            assertEquals("orders-" + i, d.getPayload().toStringUtf8());
            assertEquals("" + i, d.getAttributesMap().get("i"));
            assertEquals(sent.get(i).getTimestamp(), d.getTimestamp());
            assertEquals(1, d.getDeliveryCount());
        }
        s.expectHeartbeatWithoutDelivery(sent.getLast().getSequence());
        s.credit(0);   // a no-op
        s.credit(2);
        assertEquals(sent.get(3).getSequence(), s.delivery().getSequence());
        assertEquals(sent.get(4).getSequence(), s.delivery().getSequence());
        s.expectHeartbeatWithoutDelivery(sent.getLast().getSequence());
    }

    @Test
    void maxBatchSendsDeliveriesTogetherInOrderEachSpendingACredit() throws InterruptedException {
        var sent = publish("batched", 10);
        var s = track(StreamClient.open(broker.async()));
        s.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("batched")
                .setConsumerGroup("g").setInitialPosition(InitialPosition.EARLIEST).setMaxBatch(4)).build());
        s.credit(7);
        var got = new ArrayList<MessageDelivery>();
        while (got.size() < 7) {
            var m = s.nextSkippingHeartbeats();
            assertTrue(m.hasDeliveries(), "a batching stream sends DeliveryBatch messages, got " + m.getResponseCase());
            int n = m.getDeliveries().getDeliveriesCount();
            assertTrue(n >= 1 && n <= 4, "a batch of " + n + " with max_batch 4");
            got.addAll(m.getDeliveries().getDeliveriesList());
        }
        assertEquals(7, got.size(), "no more than the credit");
        for (int i = 0; i < 7; i++) {
            MessageDelivery d = got.get(i);
            assertEquals(sent.get(i).getSequence(), d.getSequence());
            assertEquals(sent.get(i).getMessageId(), d.getMessageId());
            assertEquals("batched-" + i, d.getPayload().toStringUtf8());
            assertEquals("" + i, d.getAttributesMap().get("i"));
            assertEquals(1, d.getDeliveryCount());
        }
        s.expectHeartbeatWithoutDelivery(sent.getLast().getSequence());
        s.ack(got.getLast().getMessageId());
        awaitCursor("batched", "g", got.getLast().getSequence());
    }

    @Test
    void maxBatchOverTheLimitIsRefused() throws InterruptedException {
        publish("batched", 1);
        var s = track(StreamClient.open(broker.async()));
        s.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("batched")
                .setConsumerGroup("g").setInitialPosition(InitialPosition.EARLIEST).setMaxBatch(1001)).build());
        Status end = s.awaitClose();
        assertEquals(Status.Code.INVALID_ARGUMENT, end.getCode(), end.toString());
        assertTrue(end.getDescription().contains("1000"), "names the limit: " + end);
    }

    @Test
    void creditsSaturateInsteadOfWrapping() throws InterruptedException {
        var sent = publish("t", 3);
        var s = group("t", "g", InitialPosition.EARLIEST);
        s.credit(-1);   // uint32 max
        s.credit(-1);
        s.credit(-1);
        for (var p : sent) {
            assertEquals(p.getSequence(), s.delivery().getSequence());
        }
    }

    @Test
    void liveMessagesArriveAfterSubscribing() throws InterruptedException {
        var s = group("live", "g", InitialPosition.LATEST);
        s.credit(100);
        s.expectHeartbeatWithoutDelivery(0);
        var sent = publish("live", 3);
        for (var p : sent) {
            assertEquals(p.getSequence(), s.delivery().getSequence());
        }
    }

    @Test
    void earliestStartsAtTheOldestMessage() throws InterruptedException {
        var sent = publish("e", 4);
        var s = group("e", "g", InitialPosition.EARLIEST);
        s.credit(1);
        assertEquals(sent.getFirst().getSequence(), s.delivery().getSequence());
    }

    @Test
    void latestSkipsTheBacklogAndIsPersistedAtEstablishment() throws InterruptedException {
        var old = publish("l", 3);
        var first = group("l", "g", InitialPosition.LATEST);
        first.expectHeartbeatWithoutDelivery(old.getLast().getSequence());
        first.cancel();
        var later = publish("l", 2);
        // Reconnecting before any ack must not skip what was published in between.
        var second = group("l", "g", InitialPosition.LATEST);
        second.credit(10);
        assertEquals(later.get(0).getSequence(), second.delivery().getSequence());
        assertEquals(later.get(1).getSequence(), second.delivery().getSequence());
    }

    @Test
    void offsetStartsAtTheGivenSequence() throws InterruptedException {
        var sent = publish("o", 5);
        var s = track(StreamClient.groupAt(broker.async(), "o", "g", sent.get(2).getSequence()));
        s.credit(10);
        assertEquals(sent.get(2).getSequence(), s.delivery().getSequence());
        assertEquals(sent.get(3).getSequence(), s.delivery().getSequence());
    }

    @Test
    void anExistingCursorWinsOverThePosition() throws InterruptedException {
        var sent = publish("c", 5);
        var s = group("c", "g", InitialPosition.EARLIEST);
        s.credit(2);
        s.delivery();
        s.ack(s.delivery().getMessageId());
        awaitCursor("c", "g", sent.get(1).getSequence());
        s.cancel();
        var again = group("c", "g", InitialPosition.LATEST);
        again.credit(1);
        assertEquals(sent.get(2).getSequence(), again.delivery().getSequence());
    }

    @Test
    void ackThenReconnectResumesAfterTheAckedMessage() throws InterruptedException {
        var sent = publish("a", 6);
        var s = group("a", "g", InitialPosition.EARLIEST);
        s.credit(3);
        var d1 = s.delivery();
        var d2 = s.delivery();
        s.delivery();
        s.ack(d2.getMessageId());   // cumulative: d1 is acknowledged too
        awaitCursor("a", "g", d2.getSequence());
        s.cancel();
        var again = group("a", "g", InitialPosition.EARLIEST);
        again.credit(10);
        var next = again.delivery();
        assertEquals(sent.get(2).getSequence(), next.getSequence());
        assertEquals(2, next.getDeliveryCount(), "delivered once before, never acked");
        assertEquals(sent.get(3).getSequence(), again.delivery().getSequence());
        assertTrue(d1.getSequence() < d2.getSequence());
    }

    @Test
    void unackedMessagesAreRedeliveredWithAHigherCount() throws InterruptedException {
        var sent = publish("r", 2);
        var s = group("r", "g", InitialPosition.EARLIEST);
        s.credit(2);
        assertEquals(1, s.delivery().getDeliveryCount());
        assertEquals(1, s.delivery().getDeliveryCount());
        s.cancel();
        var again = group("r", "g", InitialPosition.EARLIEST);
        again.credit(2);
        var d = again.delivery();
        assertEquals(sent.get(0).getSequence(), d.getSequence());
        assertEquals(2, d.getDeliveryCount());
        again.cancel();
        var third = group("r", "g", InitialPosition.EARLIEST);
        third.credit(1);
        assertEquals(3, third.delivery().getDeliveryCount());
    }

    @Test
    void duplicateAndUnknownAcksAreHarmless() throws InterruptedException {
        var sent = publish("d", 4);
        var s = group("d", "g", InitialPosition.EARLIEST);
        s.credit(2);
        var d1 = s.delivery();
        var d2 = s.delivery();
        s.ack(d2.getMessageId());
        s.ack(d2.getMessageId());
        s.ack(d1.getMessageId());   // older than the cursor: no move back
        s.ack("not-an-id");
        s.ack(UUID.randomUUID().toString());
        s.ack(sent.get(3).getMessageId().substring(0, 35) + "0");
        s.batchAck(List.of("garbage", "\u0000"));
        s.credit(1);
        assertEquals(sent.get(2).getSequence(), s.delivery().getSequence(), "the stream goes on");
        awaitCursor("d", "g", d2.getSequence());
        assertEquals(d2.getSequence(), cursorOf("d", "g"));
    }

    @Test
    void anAckForMessagesNotDeliveredYetSkipsThem() throws InterruptedException {
        var sent = publish("ahead", 10);
        var s = group("ahead", "g", InitialPosition.EARLIEST);
        s.ack(sent.get(3).getMessageId());   // before any credit: the cursor moves, nothing is sent up to it
        s.credit(1);
        assertEquals(sent.get(4).getSequence(), s.delivery().getSequence());
        s.ack(sent.get(7).getMessageId());
        s.credit(10);
        assertEquals(sent.get(8).getSequence(), s.delivery().getSequence());
        assertEquals(sent.get(9).getSequence(), s.delivery().getSequence());
        s.expectHeartbeatWithoutDelivery(sent.getLast().getSequence());
        awaitCursor("ahead", "g", sent.get(7).getSequence());
    }

    @Test
    void batchAckMovesTheCursorToTheHighestId() throws InterruptedException {
        publish("b", 5);
        var s = group("b", "g", InitialPosition.EARLIEST);
        s.credit(5);
        var ids = new ArrayList<String>();
        long highest = 0;
        for (int i = 0; i < 4; i++) {
            var d = s.delivery();
            ids.add(d.getMessageId());
            highest = d.getSequence();
        }
        s.batchAck(List.of(ids.get(3), ids.get(0), ids.get(2)));
        awaitCursor("b", "g", highest);
    }

    @Test
    void nackRedeliversOnlyThatMessageWhileOthersKeepFlowing() throws InterruptedException {
        var sent = publish("n", 4);
        var s = group("n", "g", InitialPosition.EARLIEST);
        s.credit(2);
        var first = s.delivery();
        s.delivery();
        s.nack(first.getMessageId(), 300);
        s.credit(3);
        // The other messages keep coming; the nacked one comes back after its delay, counted again.
        var seen = new ArrayList<MessageDelivery>();
        while (seen.size() < 3) {
            seen.add(s.delivery());
        }
        var redelivered = seen.stream().filter(d -> d.getSequence() == first.getSequence()).toList();
        assertEquals(1, redelivered.size(), () -> "seen " + seen);
        assertEquals(2, redelivered.getFirst().getDeliveryCount());
        assertTrue(seen.stream().anyMatch(d -> d.getSequence() == sent.get(2).getSequence()));
        assertTrue(seen.stream().anyMatch(d -> d.getSequence() == sent.get(3).getSequence()));
    }

    @Test
    void aMessageNackedAMillionTimesIsPendingOnceAndComesBackOnce() throws InterruptedException {
        var sent = publish("flood", 2);
        var s = group("flood", "g", InitialPosition.EARLIEST);
        s.credit(1);
        var first = s.delivery();
        for (int i = 0; i < Figures.scaled(20_000, 1_000_000); i++) {
            s.nack(first.getMessageId(), 200);
        }
        s.credit(10);
        var seen = new ArrayList<MessageDelivery>();
        seen.add(s.delivery());
        seen.add(s.delivery());
        assertEquals(List.of(sent.get(1).getSequence(), first.getSequence()),
                List.of(seen.get(0).getSequence(), seen.get(1).getSequence()), "the next message, then the nacked one");
        assertEquals(2, seen.get(1).getDeliveryCount());
        s.expectHeartbeatWithoutDelivery(sent.get(1).getSequence());   // and not again: it was pending once
    }

    @Test
    void anAckCancelsTheRedeliveryOfTheNackedMessagesItCovers() throws InterruptedException {
        publish("undo", 3);
        var s = group("undo", "g", InitialPosition.EARLIEST);
        s.credit(3);
        var m0 = s.delivery();
        var m1 = s.delivery();
        var m2 = s.delivery();
        s.nack(m0.getMessageId(), 200);
        s.nack(m1.getMessageId(), 200);
        s.ack(m1.getMessageId());   // cumulative: covers m0 too
        s.nack(m2.getMessageId(), 400);   // due after the others would have been: it comes first only if they do not
        s.credit(3);
        var next = s.delivery();
        assertEquals(m2.getSequence(), next.getSequence(), "acknowledged messages are not redelivered");
        assertEquals(2, next.getDeliveryCount());
        s.expectHeartbeatWithoutDelivery(m2.getSequence());
    }

    @Test
    void anAckPassesATerminatedMessageRightAfterIt() throws InterruptedException {
        publish("tm", 2);
        var s = group("tm", "g", InitialPosition.EARLIEST);
        s.credit(2);
        var m0 = s.delivery();
        var m1 = s.delivery();
        s.term(m1.getMessageId(), "unwanted");
        s.sync(1);
        assertEquals(1, s.synced());
        assertEquals(m0.getSequence() - 1, cursorOf("tm", "g"), "m0 is not acknowledged yet");
        s.ack(m0.getMessageId());
        s.sync(2);
        assertEquals(2, s.synced());
        var g = client.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("tm").build()).getStats(0)
                .getConsumerGroups(0);
        assertEquals(m1.getSequence(), g.getCursorSequence(), "the cursor passes the terminated m1");
        assertEquals(0, g.getPendingCount());
        assertEquals(0, g.getInFlight());
        assertEquals(0, g.getOldestUnackedAgeMs());
        s.cancel();
        var again = group("tm", "g", InitialPosition.EARLIEST);
        again.credit(2);
        again.expectHeartbeatWithoutDelivery(m1.getSequence());
    }

    @Test
    void aNackDelayBeyondTheMaximumEndsTheStream() throws InterruptedException {
        publish("late", 1);
        var s = group("late", "g", InitialPosition.EARLIEST);
        s.credit(1);
        s.nack(s.delivery().getMessageId(), (int) (Subscription.MAX_NACK_DELAY_MS + 1));
        var status = s.awaitClose();
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
        assertTrue(status.getDescription().contains("3600000"), status.getDescription());
    }

    @Test
    void anOffsetPastTheEndIsRefusedAndTheGroupStaysUsable() throws InterruptedException {
        var sent = publish("far", 3);
        for (long offset : new long[] {sent.getLast().getSequence() + 2, -1L}) {   // -1: 2^64-1 unsigned
            var s = track(StreamClient.groupAt(broker.async(), "far", "g", offset));
            var status = s.awaitClose();
            assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
            assertTrue(status.getDescription().contains(Long.toUnsignedString(offset)), status.getDescription());
        }
        var next = track(StreamClient.groupAt(broker.async(), "far", "next", sent.getLast().getSequence() + 1));
        next.credit(1);
        publish("far", 1);
        next.delivery();
        var g = group("far", "g", InitialPosition.EARLIEST);
        g.credit(1);
        assertEquals(sent.getFirst().getSequence(), g.delivery().getSequence(), "no cursor was stored for it");
    }

    @Test
    void aStreamHalfClosedBeforeInitEnds() throws InterruptedException {
        var s = track(StreamClient.open(broker.async()));
        s.halfClose();
        var status = s.awaitClose();
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
        assertTrue(status.getDescription().contains("init"), status.getDescription());
    }

    @Test
    void aSecondStreamOfTheGroupTakesOver() throws InterruptedException {
        var sent = publish("to", 6);
        var first = group("to", "g", InitialPosition.EARLIEST);
        first.credit(3);
        first.delivery();
        first.delivery();
        var third = first.delivery();
        first.ack(third.getMessageId());
        var second = group("to", "g", InitialPosition.EARLIEST);
        assertEquals("TAKEN_OVER", first.streamError());
        first.expectClosedWith(Status.Code.ABORTED);
        second.credit(10);
        // Continues after the first stream's committed ack.
        assertEquals(sent.get(3).getSequence(), second.delivery().getSequence());
    }

    @Test
    void aTakeoverRightAfterManyAcksStartsAfterTheLastOfThem() throws InterruptedException {
        int messages = 300;
        int acked = 200;   // more than the server queues per stream (PacedInbound): some wait unread in the transport
        var request = BatchPublishRequest.newBuilder().setTopic("acks");
        for (int i = 0; i < messages; i++) {
            request.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("m" + i)));
        }
        var sent = client.batchPublish(request.build()).getResultsList();
        for (int round = 0; round < 20; round++) {
            String group = "g" + round;
            // Ready only once nothing it sent is left in this process: its acks are on the wire before the init.
            var first = track(StreamClient.group(broker.async().withOnReadyThreshold(1), "acks", group,
                    InitialPosition.EARLIEST));
            first.credit(messages);
            var delivered = new ArrayList<MessageDelivery>();
            for (int i = 0; i < messages; i++) {
                delivered.add(first.delivery());
            }
            for (int i = 0; i < acked; i++) {
                first.ack(delivered.get(i).getMessageId());
            }
            assertTrue(first.awaitReady(StreamClient.WAIT), "the acks are sent");
            var second = group("acks", group, InitialPosition.EARLIEST);   // at once, on the same channel
            assertEquals("TAKEN_OVER", first.untilStreamError().error().getCode());
            second.credit(1);
            assertEquals(sent.get(acked).getSequence(), second.delivery().getSequence(),
                    "round " + round + ": the new stream starts after every ack the old one sent before it");
            assertEquals(sent.get(acked - 1).getSequence(), cursorOf("acks", group));
        }
    }

    @Test
    void browseNeitherMovesTheCursorNorTakesOver() throws InterruptedException {
        var sent = publish("br", 3);
        var member = group("br", "g", InitialPosition.EARLIEST);
        member.credit(1);
        member.ack(member.delivery().getMessageId());
        awaitCursor("br", "g", sent.getFirst().getSequence());

        var browser = track(StreamClient.browse(broker.async(), "br", InitialPosition.EARLIEST, 0));
        browser.credit(3);
        for (var p : sent) {
            var d = browser.delivery();
            assertEquals(p.getSequence(), d.getSequence());
            browser.ack(d.getMessageId());
        }
        member.credit(1);
        assertEquals(sent.get(1).getSequence(), member.delivery().getSequence(), "the group stream is untouched");
        assertEquals(sent.getFirst().getSequence(), cursorOf("br", "g"));
    }

    @Test
    void theFirstMessageMustBeInit() throws InterruptedException {
        var s = track(StreamClient.open(broker.async()));
        s.send(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(5)).build());
        var status = s.awaitClose();
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
        assertTrue(status.getDescription().contains("init"), status.getDescription());
    }

    @Test
    void aSecondInitEndsTheStream() throws InterruptedException {
        var s = group("twice", "g", InitialPosition.EARLIEST);
        s.send(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic("twice")).build());
        s.expectClosedWith(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void aBadTopicNameInInitIsRefused() throws InterruptedException {
        var s = group("no spaces", "g", InitialPosition.EARLIEST);
        var status = s.awaitClose();
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
        assertTrue(status.getDescription().contains("topic name"), status.getDescription());
        var g = group("fine", "bad/group", InitialPosition.EARLIEST);
        g.expectClosedWith(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void subscribingCreatesTheTopic() throws InterruptedException {
        var s = group("fresh", "g", InitialPosition.EARLIEST);
        s.expectHeartbeatWithoutDelivery(0);
        assertTrue(client.listTopics(io.sluice.proto.ListTopicsRequest.getDefaultInstance()).getTopicsList()
                .stream().anyMatch(t -> t.getName().equals("fresh")));
    }

    @Test
    void deletingTheTopicEndsItsStreams() throws InterruptedException {
        publish("gone", 1);
        var s = group("gone", "g", InitialPosition.EARLIEST);
        s.expectHeartbeatWithoutDelivery(1);
        assertTrue(client.deleteTopic(DeleteTopicRequest.newBuilder().setTopic("gone").build()).getDeleted());
        assertEquals("TOPIC_DELETED", s.streamError());
        s.expectClosedWith(Status.Code.NOT_FOUND);
    }

    @Test
    void deletingTheGroupEndsItsStreams() throws InterruptedException {
        publish("dg", 1);
        var exclusive = group("dg", "g", InitialPosition.EARLIEST);
        exclusive.expectHeartbeatWithoutDelivery(1);
        var shared = track(StreamClient.shared(broker.async(), "dg", "workers",
                io.sluice.proto.ConsumerGroupConfig.getDefaultInstance()));
        shared.expectHeartbeatWithoutDelivery(1);
        for (String g : List.of("g", "workers")) {
            assertTrue(client.deleteConsumerGroup(io.sluice.proto.DeleteConsumerGroupRequest.newBuilder()
                    .setTopic("dg").setConsumerGroup(g).build()).getDeleted());
        }
        for (StreamClient s : List.of(exclusive, shared)) {
            assertEquals("GROUP_DELETED", s.streamError());
            s.expectClosedWith(Status.Code.NOT_FOUND);
        }
    }

    @Test
    void aSharedStreamWaitingForRoomEndsGroupDeletedWhenItsGroupIsDeleted() throws InterruptedException {
        var oneAtATime = io.sluice.proto.ConsumerGroupConfig.newBuilder().setMaxInFlight(1).build();
        for (int round = 0; round < 5; round++) {   // the stream's lease request races the deletion's news
            String topic = "dgw" + round;
            publish(topic, 3);
            var s = track(StreamClient.shared(broker.async(), topic, "workers", oneAtATime));
            s.credit(5);
            s.delivery();   // then waits for room: the group holds its one message in flight
            assertTrue(client.deleteConsumerGroup(io.sluice.proto.DeleteConsumerGroupRequest.newBuilder()
                    .setTopic(topic).setConsumerGroup("workers").build()).getDeleted());
            assertEquals("GROUP_DELETED", s.streamError(), "round " + round);
            s.expectClosedWith(Status.Code.NOT_FOUND);
        }
    }

    @Test
    void aTermOfAnAcknowledgedMessageIsIgnoredAndSaysSo() throws InterruptedException {
        var sent = publish("tn", 2);
        var s = group("tn", "g", InitialPosition.EARLIEST);
        s.credit(1);
        String first = s.delivery().getMessageId();
        s.ack(first);
        Cursors.await(broker.blocking(), "tn", "g", sent.get(0).getSequence());
        var logger = java.util.logging.Logger.getLogger("io.sluice.delivery.Subscription");
        var quiet = logger.getLevel();   // the tests' logging lets only its errors through
        logger.setLevel(java.util.logging.Level.WARNING);
        try (var log = LogRecorder.install()) {
            s.term(first, "too late");
            io.sluice.Await.until("the term is said to be ignored", () -> log.warnings(logger.getName(),
                    "term of message " + sent.get(0).getSequence() + " on topic tn group g ignored") == 1);
        } finally {
            logger.setLevel(quiet);
        }
        s.credit(1);
        assertEquals(sent.get(1).getSequence(), s.delivery().getSequence());
    }

    @Test
    void resetCursorRepositionsALiveStream() throws InterruptedException {
        var sent = publish("rc", 5);
        var s = group("rc", "g", InitialPosition.EARLIEST);
        s.credit(5);
        for (int i = 0; i < 5; i++) {
            s.delivery();
        }
        client.resetCursor(ResetCursorRequest.newBuilder().setTopic("rc").setConsumerGroup("g")
                .setSequence(sent.get(1).getSequence()).build());
        s.credit(1);
        assertEquals(sent.get(2).getSequence(), s.delivery().getSequence());
    }

    @Test
    void acksOfDeliveriesMadeBeforeAResetDoNotMoveTheCursorPastIt() throws InterruptedException {
        var sent = publish("rca", 5);
        var s = group("rca", "g", InitialPosition.EARLIEST);
        s.credit(5);
        String last = null;
        for (int i = 0; i < 5; i++) {
            last = s.delivery().getMessageId();
        }
        client.resetCursor(ResetCursorRequest.newBuilder().setTopic("rca").setConsumerGroup("g")
                .setSequence(sent.get(1).getSequence()).build());
        s.ack(last);   // on its way when the reset came: the replay has not sent that message again
        s.credit(1);
        var replayed = s.delivery();
        assertEquals(sent.get(2).getSequence(), replayed.getSequence());
        s.ack(replayed.getMessageId());
        awaitCursor("rca", "g", sent.get(2).getSequence());
    }

    @Test
    void aResetCursorStartsTheDeliveryCountsOver() throws InterruptedException {
        var sent = publish("rcc", 2);
        var s = group("rcc", "g", InitialPosition.EARLIEST);
        s.credit(2);
        s.delivery();
        s.delivery();
        s.cancel();
        var again = group("rcc", "g", InitialPosition.EARLIEST);
        again.credit(2);   // both: the stream has nothing to read until it learns of the reset
        assertEquals(2, again.delivery().getDeliveryCount());
        assertEquals(2, again.delivery().getDeliveryCount());
        client.resetCursor(ResetCursorRequest.newBuilder().setTopic("rcc").setConsumerGroup("g").setSequence(0).build());
        again.credit(1);
        var replayed = again.delivery();
        assertEquals(sent.get(0).getSequence(), replayed.getSequence());
        assertEquals(1, replayed.getDeliveryCount(), "a reset is a replay: each message is counted from 1 again");
    }

    @Test
    void statsShowEachGroupsCursorAndPending() throws InterruptedException {
        var sent = publish("st", 5);
        var s = group("st", "g", InitialPosition.EARLIEST);
        s.credit(2);
        s.delivery();
        s.ack(s.delivery().getMessageId());
        awaitCursor("st", "g", sent.get(1).getSequence());
        var stats = client.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("st").build()).getStats(0);
        assertEquals(5, stats.getTotalMessages());
        assertEquals(sent.getLast().getSequence(), stats.getLastSequence());
        var g = stats.getConsumerGroups(0);
        assertEquals("g", g.getGroupName());
        assertEquals(3, g.getPendingCount());
        assertTrue(g.getLastAckTimestamp() > 0);
    }

    @Test
    void aConsumerWithOneCreditDoesNotStopAProducer() throws InterruptedException {
        var s = group("slow", "g", InitialPosition.EARLIEST);
        s.credit(1);
        int total = 20_000;
        int batch = 500;
        for (int i = 0; i < total / batch; i++) {
            var request = BatchPublishRequest.newBuilder().setTopic("slow");
            for (int j = 0; j < batch; j++) {
                request.addMessages(BatchMessage.newBuilder()
                        .setPayload(ByteString.copyFrom("m" + (i * batch + j), StandardCharsets.UTF_8)));
            }
            client.batchPublish(request.build());
        }
        var stats = client.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("slow").build()).getStats(0);
        assertEquals(total, stats.getTotalMessages());
        assertEquals(1, s.delivery().getSequence() > 0 ? 1 : 0);
        s.expectHeartbeatWithoutDelivery(stats.getLastSequence());
    }

    @Test
    void shutdownEndsStreamsWithShuttingDown() throws InterruptedException {
        var s = group("sd", "g", InitialPosition.EARLIEST);
        s.expectHeartbeatWithoutDelivery(0);
        broker.stop();
        assertEquals("SHUTTING_DOWN", s.streamError());
        s.expectClosedWith(Status.Code.UNAVAILABLE);
    }
}
