package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Await;
import io.sluice.Figures;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.ConfigureConsumerGroupRequest;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscriptionMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §7, shared groups and dead letters, against a real broker: competing streams, leases,
 * individual acks, InProgress, Nack, expiry, backoff, dead letters in both modes, and the stats.
 */
class SharedGroupTest {
    @TempDir
    Path dir;
    private TestBroker broker;
    private SluiceGrpc.SluiceBlockingStub admin;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
        admin = broker.blocking();
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    private PublishResponse publish(String topic, String payload) {
        return admin.publish(PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFromUtf8(payload))
                .putAttributes("origin", "test").build());
    }

    private ConsumerGroupStats stats(String topic, String group) {
        return admin.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics(topic).build()).getStats(0)
                .getConsumerGroupsList().stream().filter(g -> g.getGroupName().equals(group)).findFirst().orElseThrow();
    }

    private static ConsumerGroupConfig.Builder config() {
        return ConsumerGroupConfig.newBuilder();
    }

    private StreamClient shared(String topic, String group, ConsumerGroupConfig config) {
        return StreamClient.shared(broker.async(), topic, group, config);
    }

    @Test
    void configureCreatesOnceAndTheModeIsFixed() throws InterruptedException {
        var request = ConfigureConsumerGroupRequest.newBuilder().setTopic("jobs").setConsumerGroup("workers")
                .setMode(SubscriptionMode.SHARED).setConfig(config().setAckWaitMs(5_000).setMaxInFlight(10));
        var created = admin.configureConsumerGroup(request.build());
        assertTrue(created.getCreated());
        assertEquals(SubscriptionMode.SHARED, created.getMode());
        assertEquals(5_000, created.getConfig().getAckWaitMs());
        var again = admin.configureConsumerGroup(request.setConfig(config().setAckWaitMs(7_000)).build());
        assertFalse(again.getCreated());
        assertEquals(7_000, again.getConfig().getAckWaitMs(), "the configuration is replaced");

        var wrongMode = assertThrows(StatusRuntimeException.class, () -> admin.configureConsumerGroup(
                request.setMode(SubscriptionMode.CONSUMER_GROUP).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, wrongMode.getStatus().getCode());
        var stream = StreamClient.group(broker.async(), "jobs", "workers", InitialPosition.EARLIEST);
        stream.expectClosedWith(Status.Code.FAILED_PRECONDITION);

        var noDlq = assertThrows(StatusRuntimeException.class, () -> admin.configureConsumerGroup(
                request.setConsumerGroup("other").setMode(SubscriptionMode.SHARED)
                        .setConfig(config().setMaxDeliveries(3)).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, noDlq.getStatus().getCode());
        assertTrue(noDlq.getStatus().getDescription().contains("dead_letter_topic"), noDlq.getStatus().getDescription());
        var badDlq = assertThrows(StatusRuntimeException.class, () -> admin.configureConsumerGroup(
                request.setConsumerGroup("other").setConfig(config().setDeadLetterTopic("x y")).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, badDlq.getStatus().getCode());
        assertTrue(badDlq.getStatus().getDescription().startsWith("dead_letter_topic: topic name \"x y\""),
                badDlq.getStatus().getDescription());
        var noDlqStream = shared("jobs", "third", config().setMaxDeliveries(3).build());
        noDlqStream.expectClosedWith(Status.Code.INVALID_ARGUMENT);
        assertEquals(SubscriptionMode.SHARED, stats("jobs", "workers").getMode());
    }

    @Test
    void configureRefusesAStartOffsetPastTheEndAndStoresNothing() {
        long last = publish("jobs", "only").getSequence();
        for (long offset : new long[] {last + 2, -1L}) {   // one past the largest start, and 2^64-1
            var refused = assertThrows(StatusRuntimeException.class, () -> admin.configureConsumerGroup(
                    ConfigureConsumerGroupRequest.newBuilder().setTopic("jobs").setConsumerGroup("far")
                            .setMode(SubscriptionMode.SHARED).setInitialPosition(InitialPosition.OFFSET)
                            .setOffset(offset).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
            assertEquals("offset " + Long.toUnsignedString(offset) + " is beyond the end of topic jobs (its last "
                    + "sequence is " + last + "; the largest start offset is " + (last + 1) + ")",
                    refused.getStatus().getDescription());
        }
        assertTrue(admin.getTopicStats(GetTopicStatsRequest.newBuilder().addTopics("jobs").build()).getStats(0)
                .getConsumerGroupsList().isEmpty(), "no group stored");
        var atEnd = admin.configureConsumerGroup(ConfigureConsumerGroupRequest.newBuilder().setTopic("jobs")
                .setConsumerGroup("next").setMode(SubscriptionMode.SHARED).setInitialPosition(InitialPosition.OFFSET)
                .setOffset(last + 1).build());
        assertTrue(atEnd.getCreated(), "one past the last sequence: the next message");
        assertEquals(last, stats("jobs", "next").getCursorSequence());
    }

    @Test
    void eightStreamsShareMessagesEachSettledExactlyOnceAndNeverHeldByTwo() throws Exception {
        int total = Figures.SOAK ? 100_000 : 20_000;   // make soak: the full size (about 30 s)
        for (int from = 0; from < total; from += 1_000) {
            var batch = BatchPublishRequest.newBuilder().setTopic("work");
            for (int i = from; i < from + 1_000; i++) {
                batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("job-" + i)));
            }
            admin.batchPublish(batch.build());
        }
        Map<Long, Integer> deliveries = new ConcurrentHashMap<>();
        Map<Long, Integer> perStream = new ConcurrentHashMap<>();
        AtomicInteger acked = new AtomicInteger();
        AtomicBoolean twice = new AtomicBoolean();
        var streams = new ArrayList<StreamClient>();
        var threads = new ArrayList<Thread>();
        for (int s = 0; s < 8; s++) {
            StreamClient c = shared("work", "pool", config().build());
            streams.add(c);
            int streamNo = s;
            c.credit(64);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    while (acked.get() < total) {
                        SubscribeDownstream m = c.poll(Duration.ofMillis(200));
                        if (m == null || !m.hasDelivery()) {
                            continue;
                        }
                        MessageDelivery d = m.getDelivery();
                        if (deliveries.merge(d.getSequence(), 1, Integer::sum) > 1 || d.getDeliveryCount() != 1) {
                            twice.set(true);
                        }
                        perStream.merge((long) streamNo, 1, Integer::sum);
                        c.ack(d.getMessageId());
                        c.credit(1);
                        acked.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        // On PostgreSQL each lease and ack is a transaction: the 20,000 take longer than Await's 30 s on a
        // loaded machine. The deadline is for progress: it fails when no ack comes for that long.
        for (int before = acked.get(); before < total; before = acked.get()) {
            int from = before;
            Await.until("every message is acknowledged (an ack after " + from + ")", () -> acked.get() > from,
                    acked::get);
        }
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(10));
        }
        assertFalse(twice.get(), "no message was delivered twice (no lease expired: ack wait is 30 s)");
        assertEquals(total, deliveries.size());
        assertTrue(perStream.size() > 1, "the work was shared: " + perStream);
        Await.until("the group holds nothing in flight", () -> stats("work", "pool").getInFlight() == 0,
                () -> stats("work", "pool"));
        ConsumerGroupStats g = stats("work", "pool");
        assertEquals(0, g.getPendingCount());
        assertEquals(0, g.getRedelivered());
        streams.forEach(StreamClient::close);
    }

    @Test
    void anExpiredLeaseGoesToAnotherStreamWithCountPlusOneAndTheOldHoldersAckIsIgnored() throws Exception {
        PublishResponse p = publish("expire", "slow job");
        var cfg = config().setAckWaitMs(300).addBackoffMs(1).build();
        StreamClient slow = shared("expire", "g", cfg);
        slow.credit(1);
        MessageDelivery first = slow.delivery();
        assertEquals(p.getMessageId(), first.getMessageId());
        assertEquals(1, first.getDeliveryCount());

        // The lease the next holder gets must last until its ack below, which on a loaded machine (or on
        // PostgreSQL) may come more than 300 ms later: leases from now on last a minute. The one slow
        // holds still expires 300 ms after it began (a lease keeps the expiry it was given).
        admin.configureConsumerGroup(ConfigureConsumerGroupRequest.newBuilder().setTopic("expire")
                .setConsumerGroup("g").setMode(SubscriptionMode.SHARED)
                .setConfig(config().setAckWaitMs(60_000).addBackoffMs(1)).build());
        StreamClient other = shared("expire", "g", cfg);
        other.credit(1);
        MessageDelivery again = other.delivery();
        assertEquals(p.getMessageId(), again.getMessageId());
        assertEquals(2, again.getDeliveryCount());

        slow.ack(first.getMessageId());   // no longer its lease: ignored
        slow.cancel();
        broker.awaitStreams(1);
        assertEquals(1, stats("expire", "g").getInFlight(), "the late ack of the old holder settled nothing");
        other.ack(again.getMessageId());
        Await.until("the holder's ack settles it", () -> stats("expire", "g").getInFlight() == 0);
        assertEquals(1, stats("expire", "g").getRedelivered());
    }

    @Test
    void aStreamWhoseLeaseExpiredSettlesNothingWhileTheMessageWaitsOutItsBackoff() throws Exception {
        publish("late", "job");
        var cfg = config().setAckWaitMs(300).addBackoffMs(60_000).setMaxDeliveries(5)
                .setDeadLetterTopic("late-dead").build();
        StreamClient slow = shared("late", "g", cfg);
        slow.credit(1);
        String id = slow.delivery().getMessageId();
        Await.until("the lease expired", () -> stats("late", "g").getOldestUnackedAgeMs() > 600);

        slow.term(id, "too late");
        slow.sync(1);
        assertEquals(1, slow.synced());
        assertEquals(0, stats("late", "g").getDeadLettered(), "a term after the lease expired is ignored");
        slow.nack(id, 1);
        slow.inProgress(id);
        slow.ack(id);
        slow.sync(2);
        assertEquals(2, slow.synced());
        assertEquals(1, stats("late", "g").getInFlight(), "an ack after the lease expired is ignored");

        StreamClient next = shared("late", "g", cfg);
        next.credit(1);
        SubscribeDownstream m = next.poll(Duration.ofMillis(700));
        assertTrue(m == null || m.hasHeartbeat(), "a late nack cut its backoff short: " + m);
    }

    @Test
    void aStreamWaitingForRoomWhenTheCursorIsResetTakesNothingSoTheReplayIsCountedFromOne() throws Exception {
        long last = 0;
        for (int i = 0; i < 3; i++) {
            last = publish("room", "q" + i).getSequence();
        }
        var cfg = config().setMaxInFlight(1).setAckWaitMs(600_000).build();
        StreamClient first = shared("room", "g", cfg);
        first.credit(1);
        first.ack(first.delivery().getMessageId());
        first.sync(1);
        assertEquals(1, first.synced());
        StreamClient second = shared("room", "g", cfg);
        second.credit(5);
        second.delivery();   // the group's one message in flight
        first.credit(5);
        first.expectHeartbeatWithoutDelivery(last);   // its request for leases waits for room
        admin.resetCursor(ResetCursorRequest.newBuilder().setTopic("room").setConsumerGroup("g").setSequence(0).build());

        for (StreamClient s : List.of(first, second)) {
            assertEquals("CURSOR_RESET", s.streamError());
            s.expectClosedWith(Status.Code.ABORTED);
        }
        StreamClient next = shared("room", "g", cfg);
        next.credit(1);
        MessageDelivery replayed = next.delivery();
        assertEquals("q0", replayed.getPayload().toStringUtf8());
        assertEquals(1, replayed.getDeliveryCount(), "the waiting request leased nothing after the reset");
    }

    @Test
    void aCursorResetEndsTheSharedStreamsWhoseLeasesItVoidedAndTheGroupGoesOnFromTheNewCursor() throws Exception {
        for (int i = 1; i <= 4; i++) {
            publish("reset", "job " + i);
        }
        var cfg = config().setAckWaitMs(30_000).build();
        StreamClient holder = shared("reset", "g", cfg);
        holder.credit(3);
        List<Long> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(holder.delivery().getSequence());
        }
        admin.resetCursor(ResetCursorRequest.newBuilder().setTopic("reset").setConsumerGroup("g")
                .setSequence(held.get(1)).build());

        assertEquals("CURSOR_RESET", holder.streamError(), "its leases are void: it is told");
        holder.expectClosedWith(Status.Code.ABORTED);
        StreamClient next = shared("reset", "g", cfg);
        next.credit(10);
        assertEquals(held.get(2), next.delivery().getSequence(), "delivery goes on after the new cursor");
        assertEquals(held.get(2) + 1, next.delivery().getSequence());
    }

    @Test
    void inProgressKeepsTheLeasePastTheAckWait() throws Exception {
        PublishResponse p = publish("long", "long job");
        var cfg = config().setAckWaitMs(400).addBackoffMs(1).build();
        StreamClient worker = shared("long", "g", cfg);
        worker.credit(1);
        MessageDelivery d = worker.delivery();
        StreamClient idle = shared("long", "g", cfg);
        idle.credit(10);
        // Keep the lease for several ack waits: a heartbeat to the idle stream each time, never the message.
        for (int i = 0; i < 4; i++) {
            worker.inProgress(d.getMessageId());
            SubscribeDownstream m = idle.poll(Duration.ofMillis(150));
            assertTrue(m == null || m.hasHeartbeat(), "the held message went to another stream: " + m);
        }
        worker.ack(d.getMessageId());
        Await.until("settled by its holder", () -> stats("long", "g").getInFlight() == 0);
        assertEquals(0, stats("long", "g").getRedelivered(), "never delivered again: " + p.getSequence());
    }

    @Test
    void nacksComeBackAfterTheBackoffInOrderThenThePoisonIsDeadLetteredWithEveryAttribute() throws Exception {
        PublishResponse p = publish("orders", "poison");
        var cfg = config().setMaxDeliveries(3).setDeadLetterTopic("orders.dlq").addBackoffMs(200).addBackoffMs(400)
                .build();
        StreamClient c = shared("orders", "billing", cfg);
        var times = new ArrayList<Long>();
        var counts = new ArrayList<Integer>();
        for (int i = 0; i < 3; i++) {
            c.credit(1);
            MessageDelivery d = c.delivery();
            times.add(System.nanoTime());
            counts.add(d.getDeliveryCount());
            c.nack(d.getMessageId(), 0);   // 0: the configured backoff
        }
        assertEquals(List.of(1, 2, 3), counts);
        assertTrue(times.get(1) - times.get(0) >= Duration.ofMillis(200).toNanos(), "first backoff is a lower bound");
        assertTrue(times.get(2) - times.get(1) >= Duration.ofMillis(400).toNanos(), "second backoff is a lower bound");

        StreamClient dlq = StreamClient.group(broker.async(), "orders.dlq", "ops", InitialPosition.EARLIEST);
        dlq.credit(10);
        MessageDelivery dead = dlq.delivery();
        assertEquals("poison", dead.getPayload().toStringUtf8());
        Map<String, String> a = dead.getAttributesMap();
        assertEquals("test", a.get("origin"), "the original attributes are kept");
        assertEquals("orders", a.get("sluice.dlq.topic"));
        assertEquals(Long.toString(p.getSequence()), a.get("sluice.dlq.sequence"));
        assertEquals(p.getMessageId(), a.get("sluice.dlq.message_id"));
        assertEquals("billing", a.get("sluice.dlq.group"));
        assertEquals("max_deliveries", a.get("sluice.dlq.reason"));
        assertEquals("3", a.get("sluice.dlq.delivery_count"));
        assertEquals("", a.get("sluice.dlq.detail"));
        c.credit(1);
        c.expectHeartbeatWithoutDelivery(p.getSequence());
        ConsumerGroupStats g = stats("orders", "billing");
        assertEquals(1, g.getDeadLettered());
        assertEquals(0, g.getInFlight());
        assertEquals(2, g.getRedelivered());
    }

    @Test
    void termMovesTheMessageAtOnceWithItsReasonAndWithoutATopicOnlySettlesIt() throws Exception {
        PublishResponse p = publish("mail", "bad address");
        StreamClient c = shared("mail", "senders", config().setDeadLetterTopic("mail.dlq").build());
        c.credit(1);
        MessageDelivery d = c.delivery();
        c.term(d.getMessageId(), "no such mailbox");
        StreamClient dlq = StreamClient.group(broker.async(), "mail.dlq", "ops", InitialPosition.EARLIEST);
        dlq.credit(1);
        MessageDelivery dead = dlq.delivery();
        assertEquals("rejected", dead.getAttributesMap().get("sluice.dlq.reason"));
        assertEquals("no such mailbox", dead.getAttributesMap().get("sluice.dlq.detail"));
        assertEquals("1", dead.getAttributesMap().get("sluice.dlq.delivery_count"));
        assertEquals(p.getMessageId(), dead.getAttributesMap().get("sluice.dlq.message_id"));
        Await.until("settled", () -> stats("mail", "senders").getInFlight() == 0);

        publish("mail", "second");
        StreamClient plain = shared("mail", "plain", config().build());
        plain.credit(2);
        MessageDelivery one = plain.delivery();
        plain.term(one.getMessageId(), "unwanted");
        MessageDelivery two = plain.delivery();
        plain.term(two.getMessageId(), "unwanted");
        Await.until("both settled and counted", () -> stats("mail", "plain").getDeadLettered() == 2,
                () -> stats("mail", "plain"));
        assertEquals(0, stats("mail", "plain").getInFlight());
    }

    @Test
    void anExclusiveGroupCountsDeliveriesAcrossRestartsAndAPoisonStopsBlocking() throws Exception {
        PublishResponse poison = publish("feed", "poison");
        PublishResponse next = publish("feed", "next");
        var cfg = ConsumerGroupConfig.newBuilder().setMaxDeliveries(2).setDeadLetterTopic("feed.dlq").build();
        var init = io.sluice.proto.SubscriptionInit.newBuilder().setTopic("feed").setConsumerGroup("reader")
                .setInitialPosition(InitialPosition.EARLIEST).setGroupConfig(cfg);
        for (int attempt = 1; attempt <= 2; attempt++) {
            StreamClient c = StreamClient.open(broker.async());
            c.send(io.sluice.proto.SubscribeUpstream.newBuilder().setInit(init).build());
            c.credit(1);
            MessageDelivery d = c.delivery();
            assertEquals(poison.getMessageId(), d.getMessageId());
            assertEquals(attempt, d.getDeliveryCount(), "the count is stored, not remembered");
            c.cancel();
            broker.awaitStreams(0);
            broker.restart();
            admin = broker.blocking();
        }
        StreamClient c = StreamClient.open(broker.async());
        c.send(io.sluice.proto.SubscribeUpstream.newBuilder().setInit(init).build());
        c.credit(1);
        MessageDelivery d = c.delivery();
        assertEquals(next.getMessageId(), d.getMessageId(), "the dead-lettered message no longer blocks");
        assertEquals(1, d.getDeliveryCount());
        StreamClient dlq = StreamClient.group(broker.async(), "feed.dlq", "ops", InitialPosition.EARLIEST);
        dlq.credit(1);
        MessageDelivery dead = dlq.delivery();
        assertEquals("2", dead.getAttributesMap().get("sluice.dlq.delivery_count"));
        assertEquals("reader", dead.getAttributesMap().get("sluice.dlq.group"));
        assertEquals(1, stats("feed", "reader").getDeadLettered());
        assertEquals(SubscriptionMode.CONSUMER_GROUP, stats("feed", "reader").getMode());
        assertNull(c.closedStatus());
    }

    @Test
    void anExhaustedMessageIsDeadLetteredWhenItsLeaseExpiresThoughNoStreamAsksForMore() throws Exception {
        publish("quiet", "poison");
        publish("quiet", "next");
        var cfg = config().setAckWaitMs(300).addBackoffMs(50).setMaxDeliveries(1).setDeadLetterTopic("quiet.dlq")
                .build();
        StreamClient s = shared("quiet", "g", cfg);
        s.credit(1);
        assertEquals("poison", s.delivery().getPayload().toStringUtf8());
        // The stream stays open with no credit: nobody asks the group for anything.
        Await.until("dead-lettered at its lease's expiry", () -> stats("quiet", "g").getDeadLettered() == 1,
                () -> stats("quiet", "g"));
        assertEquals(0, stats("quiet", "g").getInFlight());
        StreamClient dlq = StreamClient.group(broker.async(), "quiet.dlq", "ops", InitialPosition.EARLIEST);
        dlq.credit(1);
        assertEquals("poison", dlq.delivery().getPayload().toStringUtf8());
        s.credit(1);
        assertEquals("next", s.delivery().getPayload().toStringUtf8());
        s.close();
        dlq.close();
    }

    @Test
    void leasesOfMessagesRetentionRemovedAreSettled() throws Exception {
        for (int i = 0; i < 3; i++) {
            publish("shrink", "job " + i);
        }
        StreamClient s = shared("shrink", "g", config().setAckWaitMs(60_000).build());
        s.credit(2);
        s.delivery();
        s.delivery();
        assertEquals(2, stats("shrink", "g").getInFlight());
        admin.configureTopic(io.sluice.proto.ConfigureTopicRequest.newBuilder().setTopic("shrink")
                .setConfig(io.sluice.proto.TopicConfig.newBuilder().setMaxMessages(1)).build());
        Await.until("the leases of the removed messages are settled", () -> stats("shrink", "g").getInFlight() == 0,
                () -> stats("shrink", "g"));
        assertEquals(0, stats("shrink", "g").getOldestUnackedAgeMs());
        s.credit(1);
        assertEquals("job 2", s.delivery().getPayload().toStringUtf8());
        s.close();
    }

    @Test
    void anExclusiveGroupsTerminatedMessagesAreNotInFlight() throws Exception {
        var sent = List.of(publish("terms", "a"), publish("terms", "b"), publish("terms", "c"));
        var cfg = ConsumerGroupConfig.newBuilder().setDeadLetterTopic("terms.dlq").build();
        var c = StreamClient.open(broker.async());
        c.send(io.sluice.proto.SubscribeUpstream.newBuilder().setInit(io.sluice.proto.SubscriptionInit.newBuilder()
                .setTopic("terms").setConsumerGroup("reader").setInitialPosition(InitialPosition.EARLIEST)
                .setGroupConfig(cfg)).build());
        c.credit(3);
        for (PublishResponse p : sent) {
            assertEquals(p.getMessageId(), c.delivery().getMessageId());
        }
        c.term(sent.get(2).getMessageId(), "bad");
        c.term(sent.get(1).getMessageId(), "bad");
        Await.until("both dead-lettered", () -> stats("terms", "reader").getDeadLettered() == 2);
        ConsumerGroupStats g = stats("terms", "reader");
        assertEquals(1, g.getInFlight(), "delivered, not settled: the first only; " + g);
        c.term(sent.get(0).getMessageId(), "bad");
        Await.until("all settled", () -> stats("terms", "reader").getInFlight() == 0);
        assertEquals(0, stats("terms", "reader").getOldestUnackedAgeMs());
        c.close();
    }

    @Test
    void aStreamHeldBackByMaxInFlightGetsTheNextMessageWhenAnotherStreamsAckMakesRoom() throws Exception {
        FullGroup g = fullGroup("room");
        assertEquals(1, stats("room", "g").getInFlight());

        g.holder().ack(g.held().getMessageId());
        MessageDelivery next = g.waiting().delivery();
        assertEquals(g.next().getMessageId(), next.getMessageId());
        assertEquals(1, next.getDeliveryCount());
        assertEquals(1, stats("room", "g").getInFlight(), "never more than max in flight");
        g.waiting().ack(next.getMessageId());
        Await.until("all settled", () -> stats("room", "g").getInFlight() == 0);
        g.holder().close();
        g.waiting().close();
    }

    @Test
    void aCancelledStreamsWaitingRequestTakesNothing() throws Exception {
        FullGroup g = fullGroup("gone");
        g.waiting().cancel();   // its request waited for room; it ends
        broker.awaitStreams(1);

        StreamClient c = shared("gone", "g", g.config());
        c.credit(1);
        broker.awaitStreams(2);
        g.holder().ack(g.held().getMessageId());
        MessageDelivery next = c.delivery();   // with the ack wait of 10 minutes, only if the ended stream took nothing
        assertEquals(g.next().getMessageId(), next.getMessageId());
        assertEquals(1, next.getDeliveryCount(), "never leased to the ended stream");
        g.holder().close();
        c.close();
    }

    /** A SHARED group of max in flight 1 on two messages: {@code holder} holds the first, {@code waiting} waits for room. */
    private record FullGroup(ConsumerGroupConfig config, StreamClient holder, MessageDelivery held, PublishResponse next,
                             StreamClient waiting) {
    }

    private FullGroup fullGroup(String topic) throws InterruptedException {
        publish(topic, "first");
        PublishResponse second = publish(topic, "second");
        var cfg = config().setMaxInFlight(1).setAckWaitMs(600_000).build();
        StreamClient holder = shared(topic, "g", cfg);
        holder.credit(1);
        MessageDelivery first = holder.delivery();
        StreamClient waiting = shared(topic, "g", cfg);
        waiting.credit(1);   // the group is full: its request waits in the store
        broker.awaitStreams(2);
        return new FullGroup(cfg, holder, first, second, waiting);
    }

    @Test
    void leasesOfAnEndedStreamComeBackAfterTheirBackoff() throws Exception {
        for (int i = 0; i < 5; i++) {
            publish("crash", "job-" + i);
        }
        var cfg = config().addBackoffMs(1).build();
        StreamClient first = shared("crash", "g", cfg);
        first.credit(5);
        var taken = new ConcurrentLinkedQueue<String>();
        for (int i = 0; i < 5; i++) {
            taken.add(first.delivery().getMessageId());
        }
        first.cancel();
        StreamClient second = shared("crash", "g", cfg);
        second.credit(5);
        var again = new ArrayList<String>();
        for (int i = 0; i < 5; i++) {
            MessageDelivery d = second.delivery();
            assertEquals(2, d.getDeliveryCount());
            again.add(d.getMessageId());
        }
        assertEquals(List.copyOf(taken), again, "in sequence order");
    }

    @Test
    void largeMessagesAreReadABatchOfBytesAtATimeNoneLostOrRepeated() throws Exception {
        // 12 messages of 300 KiB leased at once: read in several byte-bounded reads, not all together.
        var sent = new ArrayList<String>();
        for (int i = 0; i < 12; i++) {
            byte[] payload = new byte[300 * 1024];
            payload[0] = (byte) i;
            sent.add(admin.publish(PublishRequest.newBuilder().setTopic("big").setPayload(ByteString.copyFrom(payload))
                    .build()).getMessageId());
        }
        StreamClient c = shared("big", "g", config().build());
        c.credit(12);
        var got = new ArrayList<String>();
        for (int i = 0; i < 12; i++) {
            MessageDelivery d = c.delivery();
            assertEquals(300 * 1024, d.getPayload().size());
            assertEquals(i, d.getPayload().byteAt(0), "in sequence order");
            assertEquals(1, d.getDeliveryCount());
            got.add(d.getMessageId());
            c.ack(d.getMessageId());
        }
        assertEquals(sent, got, "every message once");
        Await.until("every message settled", () -> stats("big", "g").getInFlight() == 0, () -> stats("big", "g"));
    }
}
