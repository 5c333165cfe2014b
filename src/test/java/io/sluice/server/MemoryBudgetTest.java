package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.sluice.Await;
import io.sluice.Contents;
import io.sluice.Ledger;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.store.StoreOptions;
import io.sluice.store.sqlite.CommitFaults;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One memory budget for every publish: with the writer held, publishes of large messages beyond
 * the budget wait with their bytes unread in the transport instead of filling the heap, and every
 * one is answered once the writer goes on. Unary and streamed publishes count against the same budget.
 */
class MemoryBudgetTest {
    private static final int MIB = 1 << 20;
    private static final long BUDGET = 3L * MIB;

    @TempDir
    Path dir;

    private final CommitFaults faults = new CommitFaults();
    private final Ledger ledger = new Ledger();
    private TestBroker broker;

    @AfterEach
    void stop() throws InterruptedException {
        if (broker != null) {
            broker.close();
        }
    }

    private void startBroker() {
        broker = TestBroker.start(dir, c -> c.withLimits(MIB, 4 * MIB).withMaxQueuedBytes(BUDGET)
                .withStoreOptions(StoreOptions.defaults().withBeforeCommit(faults)));
    }

    @Test
    void grantsThatReleaseInTurnRunOneAfterAnotherNotNested() {
        // Each waiter, let in, gives its room straight back (its message was in already), which lets in
        // the next: 200,000 of them on one thread, where nested calls overflowed the stack.
        var budget = new MemoryBudget(100);
        assertTrue(budget.takeOrWait(100, () -> { }));
        int waiters = 200_000;
        var order = new ArrayList<Integer>();
        for (int i = 0; i < waiters; i++) {
            int n = i;
            assertTrue(!budget.takeOrWait(100, () -> {
                order.add(n);
                budget.release(100);
            }));
        }
        budget.release(100);
        assertEquals(waiters, order.size(), "every waiter let in");
        for (int i = 0; i < waiters; i++) {
            assertEquals(i, order.get(i), "in order");
        }
        assertEquals(0, budget.used());
    }

    @Test
    void largeUnaryPublishesBeyondTheBudgetWaitUnreadAndAreAllAnswered() throws Exception {
        startBroker();
        MemoryBudget budget = broker.server().budget();
        var hold = faults.holdNext();
        var gate = Thread.ofVirtual().start(() -> publish("gate", 10));
        hold.awaitHeld();

        int publishers = 16;
        var failures = new ConcurrentLinkedQueue<Throwable>();
        var threads = new ArrayList<Thread>();
        for (int i = 0; i < publishers; i++) {
            String key = "large-" + i;
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    publish(key, MIB - 64);   // with the key: just under the limit
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            }));
        }
        // Room for two of them (each may bring a full message): the rest wait, their bytes unread.
        Await.until("the publishes beyond the budget wait", () -> budget.waiting() == publishers - 2,
                () -> budget.waiting() + " waiting, " + budget.used() + " bytes held");
        assertTrue(budget.used() <= BUDGET, "held " + budget.used() + " of " + BUDGET);

        hold.release();
        gate.join(TimeUnit.SECONDS.toMillis(30));
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(60));
            assertTrue(!t.isAlive(), "every publisher was answered");
        }
        assertEquals(List.of(), List.copyOf(failures), "every publish stored");
        Await.until("the budget is given back", () -> budget.used() == 0, budget::used);
        ledger.verify(Contents.served(broker.channel())).assertNothingLost(ledger);
    }

    @Test
    void streamedPublishesCountAgainstTheSameBudget() throws Exception {
        startBroker();
        MemoryBudget budget = broker.server().budget();
        var hold = faults.holdNext();
        var gate = Thread.ofVirtual().start(() -> publish("gate", 10));
        hold.awaitHeld();

        int streams = 4;
        int perStream = 6;
        var answered = new CountDownLatch(streams * perStream);
        var errors = new ConcurrentLinkedQueue<String>();
        var requests = new ArrayList<StreamObserver<PublishStreamRequest>>();
        for (int s = 0; s < streams; s++) {
            var stream = broker.async().publishStream(new StreamObserver<>() {
                @Override
                public void onNext(PublishStreamResponse r) {
                    if (r.getErrorCode() != 0) {
                        errors.add(r.getErrorMessage());
                    }
                    answered.countDown();
                }

                @Override
                public void onError(Throwable t) {
                    errors.add(t.toString());
                }

                @Override
                public void onCompleted() {
                }
            });
            requests.add(stream);
            for (int i = 0; i < perStream; i++) {
                stream.onNext(PublishStreamRequest.newBuilder().setRequestId(i).setTopic("streamed")
                        .setPayload(ByteString.copyFrom(new byte[MIB / 2])).build());
            }
        }
        // Each stream reads one request at a time, and only while the budget has room.
        Await.until("the streams stop reading at the budget", () -> budget.waiting() > 0,
                () -> budget.waiting() + " waiting, " + budget.used() + " bytes held");
        assertTrue(budget.used() <= BUDGET + (long) streams * MIB, "held " + budget.used());

        hold.release();
        gate.join(TimeUnit.SECONDS.toMillis(30));
        assertTrue(answered.await(60, TimeUnit.SECONDS), "every streamed publish answered");
        assertEquals(List.of(), List.copyOf(errors));
        requests.forEach(StreamObserver::onCompleted);
        Await.until("the budget is given back", () -> budget.used() == 0, budget::used);
    }

    private void publish(String key, int size) {
        ByteString payload = ledger.attempt(key).concat(ByteString.copyFrom(new byte[size]));
        var r = broker.blocking().publish(PublishRequest.newBuilder().setTopic("t").setPayload(payload)
                .putAttributes("writer", key).build());
        ledger.ack(new Ledger.Acked(key, "t", r.getMessageId(), r.getSequence(), payload));
    }
}
