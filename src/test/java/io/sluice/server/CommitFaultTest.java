package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.sluice.Await;
import io.sluice.Contents;
import io.sluice.Figures;
import io.sluice.Ledger;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.store.StoreOptions;
import io.sluice.store.sqlite.CommitFaults;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sqlite.SQLiteErrorCode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Storage errors at commit, injected through the store's {@code BeforeCommit} seam into the real
 * writer of a real broker: every publisher of the failed transaction gets an error and none an OK;
 * after an I/O error the broker refuses writes until a restart; nothing unacknowledged ever shows up.
 */
@ExtendWith(Figures.class)
class CommitFaultTest {
    /** Writes per transaction: small, so that the writes queued behind a failed commit form batches of their own. */
    private static final int MAX_BATCH = 8;
    private static final int WRITERS = 3 * MAX_BATCH;
    private static final String TOPIC = "t";

    @TempDir
    Path dir;

    private final CommitFaults faults = new CommitFaults();
    private final Ledger ledger = new Ledger();
    private final List<StreamClient> streams = new ArrayList<>();
    private TestBroker broker;

    @AfterEach
    void stop() throws InterruptedException {
        streams.forEach(StreamClient::close);
        if (broker != null) {
            broker.close();
        }
    }

    private void startBroker() {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults()
                .withBeforeCommit(faults).withMaxBatch(MAX_BATCH)));
    }

    /** What one writer was told. */
    private record Answer(String key, Status status) {
        boolean ok() {
            return status.isOk();
        }
    }

    @ParameterizedTest
    @EnumSource(value = SQLiteErrorCode.class, names = {"SQLITE_IOERR_FSYNC", "SQLITE_IOERR_WRITE"})
    void anIoErrorAtCommitFailsItsWholeBatchAndWritesAreRefusedUntilRestart(SQLiteErrorCode code) throws Exception {
        startBroker();
        var client = broker.blocking();
        for (int i = 0; i < 20; i++) {
            publish(client, "before-" + i);
        }
        // BROWSE: after it starts it writes nothing (no acks, no delivered marks), so the next commit is ours.
        var subscriber = track(StreamClient.browse(broker.async(), TOPIC, InitialPosition.EARLIEST, 0));
        subscriber.credit(1000);
        for (int i = 0; i < 20; i++) {
            assertEquals("before-" + i, Ledger.key(subscriber.delivery().getPayload()));
        }

        List<Answer> answers = failTheCommitAfterAHeldOne(code);

        for (Answer a : answers) {
            assertTrue(!a.ok(), a.key() + " was answered OK after the I/O error: " + a.status());
        }
        long internal = answers.stream().filter(a -> a.status().getCode() == Status.Code.INTERNAL).count();
        assertEquals(faults.failedBatches().getFirst().longValue(), internal,
                "the writers of the failed transaction get INTERNAL: " + answers);
        for (Answer a : answers) {
            String d = a.status().getDescription();
            if (a.status().getCode() == Status.Code.INTERNAL) {
                assertTrue(d.contains("I/O error"), "names the cause: " + d);
            } else {
                assertEquals(Status.Code.UNAVAILABLE, a.status().getCode(), a.key() + ": " + a.status());
                assertTrue(d.contains("refuses writes after an I/O error") && d.contains("restart"),
                        "says writes are refused until a restart: " + d);
            }
        }
        assertEquals(List.of(MAX_BATCH), faults.failedBatches(), "one transaction of " + MAX_BATCH + " failed");

        // Every later write is refused, saying why; reads go on.
        StatusRuntimeException later = refused(() -> publish(client, "after-the-error"));
        assertEquals(Status.Code.UNAVAILABLE, later.getStatus().getCode());
        assertTrue(later.getStatus().getDescription().contains("restart the broker"), later.getStatus().toString());
        refused(() -> client.batchPublish(BatchPublishRequest.newBuilder().setTopic(TOPIC)
                .addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("batch"))).build()));
        assertEquals(21, client.getTopicStats(io.sluice.proto.GetTopicStatsRequest.newBuilder().addTopics(TOPIC)
                .build()).getStats(0).getTotalMessages(), "the 20 messages and the held one are readable");
        assertEquals("gate", Ledger.key(subscriber.delivery().getPayload()), "the held commit went through");
        subscriber.expectHeartbeatWithoutDelivery(21);
        for (String service : List.of("", "sluice.v1.Sluice")) {
            assertEquals(HealthCheckResponse.ServingStatus.NOT_SERVING, health(service),
                    "probes hear that only a restart recovers (\"" + service + "\")");
        }

        broker.restart();
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, health("sluice.v1.Sluice"), "serving after the restart");
        var again = broker.blocking();
        publish(again, "after-restart");
        Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
        v.assertNothingLost(ledger);
        assertEquals(0, v.storedWithoutAnswer(), "nothing of the failed or refused writes was stored");
        System.out.printf("CommitFaultTest %s: %d writers of the failed commit got INTERNAL, %d queued behind it "
                        + "UNAVAILABLE, none OK; after a restart %d acknowledged, all there%n",
                code.name(), internal, answers.size() - internal, ledger.size());
        Figures.row("commit error: " + code.name().toLowerCase()).cycles(1).acknowledged(ledger.size())
                .lost(v.lost().size()).inputs(answers.size());
    }

    @Test
    void damageReportedAtCommitFailsItsBatchWithDataLossAndWritesAreRefusedUntilRestart() throws Exception {
        startBroker();
        var client = broker.blocking();
        publish(client, "before");

        List<Answer> answers = failTheCommitAfterAHeldOne(SQLiteErrorCode.SQLITE_CORRUPT);

        for (Answer a : answers) {
            assertTrue(!a.ok(), a.key() + " was answered OK after SQLite reported damage: " + a.status());
        }
        long dataLoss = answers.stream().filter(a -> a.status().getCode() == Status.Code.DATA_LOSS).count();
        assertEquals(MAX_BATCH, dataLoss, "the writers of the failed transaction get DATA_LOSS: " + answers);
        StatusRuntimeException later = refused(() -> publish(client, "after-the-damage"));
        assertEquals(Status.Code.UNAVAILABLE, later.getStatus().getCode(), later.getStatus().toString());
        assertTrue(later.getStatus().getDescription().contains("damage"), later.getStatus().toString());

        broker.restart();   // the database is intact (the damage was injected): the check passes
        publish(broker.blocking(), "after-restart");
        Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
        v.assertNothingLost(ledger);
        assertEquals(0, v.storedWithoutAnswer(), "nothing refused was stored");
        Figures.row("commit error: sqlite_corrupt").cycles(1).acknowledged(ledger.size()).lost(v.lost().size())
                .inputs(answers.size()).corruptions(1);
    }

    @Test
    void aFullDiskAtCommitFailsOnlyItsBatchAndWritesGoOnWithoutRestart() throws Exception {
        startBroker();
        var client = broker.blocking();
        publish(client, "before");

        List<Answer> answers = failTheCommitAfterAHeldOne(SQLiteErrorCode.SQLITE_FULL);

        long full = 0;
        for (Answer a : answers) {
            if (a.ok()) {
                continue;   // queued behind the failed commit: a full disk refuses nothing for good
            }
            full++;
            assertEquals(Status.Code.UNAVAILABLE, a.status().getCode(), a.key() + ": " + a.status());
            assertTrue(a.status().getDescription().contains("full"), "names the cause: " + a.status());
        }
        assertEquals(MAX_BATCH, full, "exactly the writers of the failed transaction are refused: " + answers);
        publish(client, "after");
        Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
        v.assertNothingLost(ledger);
        assertEquals(0, v.storedWithoutAnswer(), "nothing refused was stored");
        Figures.row("commit error: sqlite_full").cycles(1).acknowledged(ledger.size()).lost(v.lost().size())
                .inputs(answers.size());
    }

    @Test
    void anErrorTheWriterCannotRecoverFromStopsItSaysNotServingAndTellsTheProcess() throws Exception {
        startBroker();
        var told = new java.util.concurrent.CompletableFuture<String>();
        broker.server().onFatal(told::complete);
        var client = broker.blocking();
        publish(client, "before");

        faults.throwNext(new OutOfMemoryError("Java heap space (injected by the test)"));
        StatusRuntimeException failed = refused(() -> publish(client, "in-the-failed-commit"));
        assertEquals(Status.Code.UNAVAILABLE, failed.getStatus().getCode(), failed.getStatus().toString());
        assertTrue(failed.getStatus().getDescription().contains("OutOfMemoryError"), failed.getStatus().toString());

        String reason = told.get(30, TimeUnit.SECONDS);
        assertTrue(reason.contains("writer stopped") && reason.contains("restarted"), reason);
        for (String service : List.of("", "sluice.v1.Sluice")) {
            assertEquals(HealthCheckResponse.ServingStatus.NOT_SERVING, health(service), "health is truthful");
        }
        StatusRuntimeException later = refused(() -> publish(client, "after"));
        assertEquals(Status.Code.UNAVAILABLE, later.getStatus().getCode());
        assertTrue(later.getStatus().getDescription().contains("writer stopped"), later.getStatus().toString());

        broker.restart();   // what a supervisor does when the process exits non-zero
        publish(broker.blocking(), "after-restart");
        Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
        v.assertNothingLost(ledger);
        assertEquals(0, v.storedWithoutAnswer(), "nothing of the failed commit was stored");
    }

    /**
     * Holds a commit (of one publish, "gate"), queues {@link #WRITERS} writes behind it (two of them
     * BatchPublish requests), fails the commit of the first {@link #MAX_BATCH} and answers what every
     * writer was told.
     */
    private List<Answer> failTheCommitAfterAHeldOne(SQLiteErrorCode code) throws InterruptedException {
        var hold = faults.holdNext();
        faults.failNext(code);
        var gate = Thread.ofVirtual().start(() -> publish(broker.blocking(), "gate"));
        hold.awaitHeld();

        var answers = new ConcurrentLinkedQueue<Answer>();
        var writers = new ArrayList<Thread>();
        for (int i = 0; i < WRITERS; i++) {
            String key = "queued-" + i;
            boolean batch = i % 12 == 5;
            var stub = broker.blocking();
            writers.add(Thread.ofVirtual().start(() -> {
                try {
                    if (batch) {
                        var payload = ledger.attempt(key);
                        var r = stub.batchPublish(BatchPublishRequest.newBuilder().setTopic(TOPIC)
                                .addMessages(BatchMessage.newBuilder().setPayload(payload)
                                        .putAttributes("writer", key)).build());
                        ledger.ack(new Ledger.Acked(key, TOPIC, r.getResults(0).getMessageId(),
                                r.getResults(0).getSequence(), payload));
                    } else {
                        publish(stub, key);
                    }
                    answers.add(new Answer(key, Status.OK));
                } catch (StatusRuntimeException e) {
                    answers.add(new Answer(key, e.getStatus()));
                }
            }));
        }
        awaitQueueDepth(WRITERS);
        hold.release();
        gate.join(TimeUnit.SECONDS.toMillis(30));
        for (Thread t : writers) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertTrue(!t.isAlive(), "every writer was answered");
        }
        assertTrue(ledger.acknowledged("gate"), "the held commit went through");
        return List.copyOf(answers);
    }

    private void awaitQueueDepth(int n) {
        Await.until("writes queued reach " + n, () -> broker.server().store().pendingWrites() >= n,
                () -> "(" + broker.server().store().pendingWrites() + " queued)");
    }

    private PublishResponse publish(SluiceGrpc.SluiceBlockingStub stub, String key) {
        var payload = ledger.attempt(key);
        PublishResponse r = stub.publish(PublishRequest.newBuilder().setTopic(TOPIC).setPayload(payload)
                .putAllAttributes(Map.of("writer", key)).build());
        ledger.ack(new Ledger.Acked(key, TOPIC, r.getMessageId(), r.getSequence(), payload));
        return r;
    }

    private static StatusRuntimeException refused(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e;
        }
        return fail("the call was expected to be refused");
    }

    private HealthCheckResponse.ServingStatus health(String service) {
        return HealthGrpc.newBlockingStub(broker.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }

    private StreamClient track(StreamClient s) {
        streams.add(s);
        return s;
    }

}
