package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * How {@link PacedInbound} asks the transport for messages: at once while its queue has room, not
 * at all once it is full, and again when its worker has taken it below. The worker is run by the
 * test ({@link HeldWorker}), so what is queued at each step is exact.
 */
class PacedInboundTest {

    @Test
    void asksForEachNextMessageWhileTheQueueHasRoomAndStopsWhenItIsFull() {
        var call = new Requests();
        var worker = new HeldWorker();
        var ran = new CopyOnWriteArrayList<Integer>();
        var inbound = new PacedInbound(call, null, worker, e -> { throw e; });
        inbound.start();
        assertEquals(1, call.requested.get());
        for (int i = 0; i < PacedInbound.MAX_TASKS; i++) {
            int n = i;
            inbound.message(() -> ran.add(n), 10);
        }
        // Each message but the last found room after it was queued: 1 + 63 asked, the 64th filled the queue.
        assertEquals(PacedInbound.MAX_TASKS, call.requested.get());
        assertEquals(1, worker.started, "one worker for the whole queue");

        worker.runOne();   // takes the first task: the queue has room again, so the transport is asked once more
        assertEquals(PacedInbound.MAX_TASKS + 1, call.requested.get());
        assertEquals(IntStream.range(0, PacedInbound.MAX_TASKS).boxed().toList(), ran, "in order");
    }

    @Test
    void aLargeMessageFillsTheQueueByItsBytes() {
        var call = new Requests();
        var worker = new HeldWorker();
        var inbound = new PacedInbound(call, null, worker, e -> { throw e; });
        inbound.start();
        inbound.message(() -> { }, 100);
        assertEquals(2, call.requested.get());
        inbound.message(() -> { }, PacedInbound.MAX_BYTES);
        assertEquals(2, call.requested.get(), "over the byte bound: nothing more asked");
        worker.runOne();
        assertEquals(3, call.requested.get(), "asked again once the worker took the queue below the bound");
    }

    @Test
    void workThatIsNotAMessageRunsAfterTheMessagesBeforeItAndAsksForNothing() {
        var call = new Requests();
        var worker = new HeldWorker();
        var ran = new ArrayList<String>();
        var inbound = new PacedInbound(call, null, worker, e -> { throw e; });
        inbound.message(() -> ran.add("ack"), 10);
        inbound.then(() -> ran.add("cancel"));
        assertEquals(1, call.requested.get(), "only the message asked for the next one");
        worker.runOne();
        assertEquals(List.of("ack", "cancel"), ran);
    }

    @Test
    void aFailingTaskIsReportedAndTheWorkerGoesOn() {
        var call = new Requests();
        var worker = new HeldWorker();
        var failures = new ArrayList<RuntimeException>();
        var ran = new ArrayList<Integer>();
        var inbound = new PacedInbound(call, null, worker, failures::add);
        inbound.message(() -> { throw new IllegalStateException("broken"); }, 10);
        inbound.message(() -> ran.add(2), 10);
        worker.runOne();
        assertEquals(1, failures.size());
        assertEquals("broken", failures.getFirst().getMessage());
        assertEquals(List.of(2), ran);
    }

    @Test
    void aRefusedWorkerIsReportedAndItsQueueDropped() {
        var call = new Requests();
        var failures = new ArrayList<RuntimeException>();
        var ran = new ArrayList<Integer>();
        var refusing = new AtomicInteger();
        Executor stopped = task -> {
            refusing.incrementAndGet();
            throw new RejectedExecutionException("stopped");
        };
        var inbound = new PacedInbound(call, null, stopped, failures::add);
        inbound.message(() -> ran.add(1), 10);
        inbound.message(() -> ran.add(2), 10);
        assertEquals(2, refusing.get(), "each message found no worker and tried to start one");
        assertEquals(2, failures.size());
        assertInstanceOf(RejectedExecutionException.class, failures.getFirst());
        assertEquals(List.of(), ran);
    }

    @Test
    void settlingWaitsForWhatTheTransportThreadHoldsHoweverLongItIsHeldUp() throws Exception {
        var transport = Executors.newSingleThreadExecutor();
        try {
            var held = new CountDownLatch(1);
            var handled = new CopyOnWriteArrayList<Integer>();
            var call = new Requests();
            var inbound = new PacedInbound(call, transport, task -> Thread.ofVirtual().start(task), e -> { throw e; });
            // As gRPC does: the messages asked for are handed over by a task on the transport thread,
            // which is busy elsewhere for longer than any quiet period.
            call.onRequest = count -> {
                if (count == PacedInbound.SETTLE_REQUEST) {
                    transport.execute(() -> IntStream.range(0, 3)
                            .forEach(i -> inbound.message(() -> handled.add(i), 10)));
                }
            };
            transport.execute(() -> await(held));
            var settled = CompletableFuture.supplyAsync(() -> {
                try {
                    return inbound.settle(TimeUnit.MILLISECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(30));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThrows(TimeoutException.class, () -> settled.get(200, TimeUnit.MILLISECONDS),
                    "settled while the transport thread still held the stream's messages");
            held.countDown();
            assertTrue(settled.get(30, TimeUnit.SECONDS));
            assertEquals(List.of(0, 1, 2), handled, "every message handled before settle answered");
        } finally {
            transport.shutdownNow();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Starts no thread: the test runs the one worker it was given, up to the empty queue. */
    private static final class HeldWorker implements Executor {
        private Runnable pending;
        int started;

        @Override
        public void execute(Runnable worker) {
            assertNull(pending, "a second worker while one is running");
            pending = worker;
            started++;
        }

        void runOne() {
            Runnable w = pending;
            pending = null;
            w.run();
        }
    }

    /** A call that only counts what it was asked for (and tells {@code onRequest}). */
    private static final class Requests extends ServerCallStreamObserver<Object> {
        final AtomicInteger requested = new AtomicInteger();
        volatile IntConsumer onRequest = count -> { };

        @Override
        public void request(int count) {
            requested.addAndGet(count);
            onRequest.accept(count);
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void setOnCancelHandler(Runnable onCancelHandler) {
        }

        @Override
        public void setCompression(String compression) {
        }

        @Override
        public boolean isReady() {
            return true;
        }

        @Override
        public void setOnReadyHandler(Runnable onReadyHandler) {
        }

        @Override
        public void disableAutoInboundFlowControl() {
        }

        @Override
        public void setMessageCompression(boolean enable) {
        }

        @Override
        public void onNext(Object value) {
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
        }
    }
}
