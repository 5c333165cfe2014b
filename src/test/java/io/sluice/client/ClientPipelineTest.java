package io.sluice.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.server.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publishes pipelined on the client's shared PublishStream, against a real broker. */
class ClientPipelineTest {
    static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private TestBroker broker;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir, c -> c.withLimits(1024, 64 * 1024));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        broker.close();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closing.add(c);
        return c;
    }

    private SluiceClient client(PublishOptions options) {
        return closeLater(SluiceClient.connect("127.0.0.1:" + broker.port(), WAIT, options));
    }

    /** Every stored message of {@code topic}, by sequence, read back through a browse. */
    private static Map<Long, Message> readAll(SluiceClient client, String topic, int count)
            throws InterruptedException {
        var stored = new HashMap<Long, Message>();
        try (Subscription s = client.subscribe(SubscriptionOptions.of(topic).browsing().from(Position.EARLIEST)
                .withCreditWindow(1000))) {
            while (stored.size() < count) {
                Message m = s.receive(WAIT).orElseThrow(() -> new AssertionError("only " + stored.size()
                        + " of " + count + " messages came back"));
                stored.put(m.sequence(), m);
            }
        }
        return stored;
    }

    @Test
    void manyThreadsPublishingThroughOneClientEachGetTheirOwnAnswer() throws Exception {
        SluiceClient client = client(PublishOptions.defaults().withWindow(64));
        int threads = 16;
        int each = 60;
        var answers = new ConcurrentHashMap<String, Published>();
        var failure = new AtomicReference<Throwable>();
        var workers = new ArrayList<Thread>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            // Half on platform threads publishing and waiting, half on virtual threads with futures.
            Runnable work = () -> {
                try {
                    var futures = new ArrayList<CompletableFuture<Published>>();
                    for (int i = 0; i < each; i++) {
                        String text = "t" + thread + "-" + i;
                        if (thread % 2 == 0) {
                            answers.put(text, client.publish("many", text.getBytes(UTF_8), Map.of("k", text)));
                        } else {
                            futures.add(client.publishAsync("many", text.getBytes(UTF_8), Map.of("k", text)));
                        }
                    }
                    for (int i = 0; i < futures.size(); i++) {
                        answers.put("t" + thread + "-" + i, futures.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS));
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            };
            workers.add(thread % 2 == 0 ? Thread.ofPlatform().start(work) : Thread.ofVirtual().start(work));
        }
        for (Thread w : workers) {
            assertTrue(w.join(WAIT), "a publishing thread did not finish");
        }
        assertNull(failure.get());
        assertEquals(threads * each, answers.size());
        assertEquals(threads * each, answers.values().stream().map(Published::sequence).distinct().count());

        Map<Long, Message> stored = readAll(client, "many", threads * each);
        answers.forEach((text, published) -> {
            Message m = stored.get(published.sequence());
            assertEquals(text, m.payloadText(), "the answer's sequence names the message that was sent");
            assertEquals(published.id(), m.id());
            assertEquals(published.timestamp(), m.timestamp());
            assertEquals(Map.of("k", text), m.attributes());
        });
    }

    @Test
    void aBadMessageFailsAloneAndTheStreamGoesOn() throws Exception {
        SluiceClient client = client(PublishOptions.defaults());
        var good = client.publishAsync("orders", "a".getBytes(UTF_8), Map.of());
        var badName = client.publishAsync("bad topic", "b".getBytes(UTF_8), Map.of());
        var tooBig = client.publishAsync("orders", new byte[2048], Map.of());
        var alsoGood = client.publishAsync("orders", "c".getBytes(UTF_8), Map.of());

        long first = good.get(WAIT.toSeconds(), TimeUnit.SECONDS).sequence();
        var e = assertThrows(ExecutionException.class, () -> badName.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        var invalid = assertInstanceOf(SluiceClientException.InvalidArgument.class, e.getCause());
        assertTrue(invalid.getMessage().startsWith("INVALID_ARGUMENT: topic name \"bad topic\""),
                invalid.getMessage());
        e = assertThrows(ExecutionException.class, () -> tooBig.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        assertInstanceOf(SluiceClientException.ResourceExhausted.class, e.getCause());
        assertTrue(alsoGood.get(WAIT.toSeconds(), TimeUnit.SECONDS).sequence() > first);

        assertThrows(SluiceClientException.InvalidArgument.class, () -> client.publish("", new byte[1]));
        assertTrue(client.publish("orders", "d".getBytes(UTF_8)).sequence() > first);
        assertEquals(3, client.stats("orders").getFirst().totalMessages());
    }

    @Test
    void aFullWindowBlocksThePublisherUntilAnswersMakeRoom() throws Exception {
        fullWindowBlocks(PublishOptions.defaults().withWindow(4));
    }

    @Test
    void aFullWindowBlocksUnaryPublishesToo() throws Exception {
        fullWindowBlocks(PublishOptions.defaults().withUnary().withWindow(4));
    }

    private void fullWindowBlocks(PublishOptions options) throws Exception {
        var proxy = closeLater(new TcpProxy(broker.port()));
        var client = closeLater(SluiceClient.connect("127.0.0.1:" + proxy.port(), WAIT, options));
        client.publish("held", "warm".getBytes(UTF_8));   // the stream is open before the answers are held

        proxy.holdAnswers();
        var first = new ArrayList<CompletableFuture<Published>>();
        for (int i = 0; i < 4; i++) {
            first.add(client.publishAsync("held", ("m" + i).getBytes(UTF_8), Map.of()));
        }
        var returned = new CountDownLatch(1);
        var fifth = new AtomicReference<CompletableFuture<Published>>();
        Thread publisher = Thread.ofPlatform().start(() -> {
            fifth.set(client.publishAsync("held", "m4".getBytes(UTF_8), Map.of()));
            returned.countDown();
        });
        awaitWaiting(publisher);
        assertEquals(1, returned.getCount(), "the fifth publish waits for room instead of queueing");
        assertFalse(first.getFirst().isDone());
        var completedOn = first.stream().map(f -> f.thenApply(x -> Thread.currentThread().getName())).toList();

        proxy.release();
        for (var name : completedOn) {
            assertEquals("sluice-client-callbacks", name.get(WAIT.toSeconds(), TimeUnit.SECONDS),
                    "completed one after the other on the client's callback thread");
        }
        assertTrue(returned.await(WAIT.toSeconds(), TimeUnit.SECONDS));
        for (var f : first) {
            f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
        fifth.get().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(6, client.stats("held").getFirst().totalMessages());
    }

    @Test
    void aWindowThatStaysFullFailsThePublishWhenItsTimeoutPasses() throws Exception {
        var proxy = closeLater(new TcpProxy(broker.port()));
        var client = closeLater(SluiceClient.connect("127.0.0.1:" + proxy.port(), Duration.ofSeconds(1),
                PublishOptions.defaults().withWindow(2)));
        // The stream is open before the answers are held. A first publish to a fresh broker may take
        // longer than the 1 s call timeout on a loaded machine: it is made again until answered.
        Await.until("the client's stream is open", () -> {
            try {
                client.publish("held", "warm".getBytes(UTF_8));
                return true;
            } catch (SluiceClientException e) {
                if (e.code() != io.grpc.Status.Code.DEADLINE_EXCEEDED) {
                    throw e;
                }
                return false;
            }
        });
        // The deadline sweep (every 250 ms) would fail a and b once their deadline passed, and that comes
        // before the third's (made after them): a sweep in between frees their slots and the third is sent.
        // Scheduled by nobody while this holds it, it fails neither, and the window stays full.
        var sweepScheduled = (java.util.concurrent.atomic.AtomicBoolean) field(field(field(client, "publishes"),
                "pipeline"), "sweepScheduled");
        Await.until("the sweep of the warm publish has run", () -> sweepScheduled.compareAndSet(false, true));
        try {
            proxy.holdAnswers();
            client.publishAsync("held", "a".getBytes(UTF_8), Map.of());
            client.publishAsync("held", "b".getBytes(UTF_8), Map.of());

            var third = client.publishAsync("held", "c".getBytes(UTF_8), Map.of());
            assertTrue(third.isDone(), "the caller waited for room until its timeout");
            var e = assertThrows(ExecutionException.class, third::get);
            var cause = assertInstanceOf(SluiceClientException.class, e.getCause());
            assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, cause.code());
            assertTrue(cause.getMessage().contains("publish window"), cause.getMessage());
        } finally {
            sweepScheduled.set(false);
            proxy.release();
        }
    }

    @Test
    void publishesOfAStreamGivenUpForAnOverdueAnswerFailAsInDoubt() throws Exception {
        var proxy = closeLater(new TcpProxy(broker.port()));
        var client = closeLater(SluiceClient.connect("127.0.0.1:" + proxy.port(), Duration.ofSeconds(1),
                PublishOptions.defaults()));
        Await.until("the client's stream is open", () -> {
            try {
                client.publish("held", "warm".getBytes(UTF_8));
                return true;
            } catch (SluiceClientException e) {
                return false;
            }
        });
        Object pipeline = field(field(client, "publishes"), "pipeline");
        var sweepScheduled = (java.util.concurrent.atomic.AtomicBoolean) field(pipeline, "sweepScheduled");
        Await.until("the sweep of the warm publish has run", () -> sweepScheduled.compareAndSet(false, true));
        try {
            proxy.holdAnswers();
            long sent = System.nanoTime();
            var overdue = client.publishAsync("held", "a".getBytes(UTF_8), Map.of());
            Await.until("a's call timeout passed", () -> System.nanoTime() - sent > 1_100_000_000L);
            var later = client.publishAsync("held", "b".getBytes(UTF_8), Map.of());
            sweepScheduled.set(false);
            var sweep = pipeline.getClass().getDeclaredMethod("sweep");
            sweep.setAccessible(true);
            sweep.invoke(pipeline);   // a is overdue: the stream is given up, b with it
            var a = assertInstanceOf(SluiceClientException.class,
                    assertThrows(ExecutionException.class, () -> overdue.get(WAIT.toSeconds(), TimeUnit.SECONDS))
                            .getCause());
            assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, a.code(), a.getMessage());
            var b = assertInstanceOf(SluiceClientException.Unavailable.class,
                    assertThrows(ExecutionException.class, () -> later.get(WAIT.toSeconds(), TimeUnit.SECONDS))
                            .getCause());
            assertTrue(b.getMessage().contains("may have been stored"), b.getMessage());
        } finally {
            proxy.release();
        }
    }

    /** Waits (with a deadline) until {@code t} is parked: blocked on the window, not running or done. */
    private static void awaitWaiting(Thread t) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (t.getState() != Thread.State.TIMED_WAITING && t.getState() != Thread.State.WAITING) {
            assertTrue(t.isAlive(), "the publisher returned instead of waiting");
            assertTrue(System.nanoTime() < deadline, "the publisher never waited");
            LockSupport.parkNanos(1_000_000);   // a thread's state has no event to wait on
        }
    }

    @Test
    void aBlockingPublishInsideAnAnswerCallbackDoesNotWaitForItself() throws Exception {
        SluiceClient client = client(PublishOptions.defaults());
        var inner = new CompletableFuture<Published>();
        client.publishAsync("nested", "outer".getBytes(UTF_8), Map.of()).thenAccept(outer -> {
            try {
                inner.complete(client.publish("nested", "inner".getBytes(UTF_8)));
            } catch (RuntimeException e) {
                inner.completeExceptionally(e);
            }
        });
        assertTrue(inner.get(WAIT.toSeconds(), TimeUnit.SECONDS).sequence() > 0);
    }

    @Test
    void unaryStaysAvailableAsAnOption() throws Exception {
        SluiceClient client = client(PublishOptions.defaults().withUnary());
        Published p = client.publish("unary", "u".getBytes(UTF_8));
        Published q = client.publishAsync("unary", "v".getBytes(UTF_8), Map.of()).get(WAIT.toSeconds(),
                TimeUnit.SECONDS);
        assertTrue(q.sequence() > p.sequence());
        assertEquals("u", readAll(client, "unary", 2).get(p.sequence()).payloadText());
    }

    @Test
    void publishesAfterCloseFailAsUnavailable() {
        SluiceClient client = SluiceClient.connect("127.0.0.1:" + broker.port());
        client.publish("closed", new byte[1]);
        client.close();
        var e = assertThrows(ExecutionException.class,
                () -> client.publishAsync("closed", new byte[1], Map.of()).get(WAIT.toSeconds(), TimeUnit.SECONDS));
        assertInstanceOf(SluiceClientException.Unavailable.class, e.getCause());
    }

    /** Counts for the restart tests: stored answers by text, and failures by kind. */
    record Outcome(Map<String, Published> stored, Map<String, Integer> failures) {
    }

    /** {@code threads} threads publishing {@code each} messages, each waiting for its answer. */
    private static Outcome publishWhile(SluiceClient client, String topic, int threads, int each, Runnable meanwhile)
            throws InterruptedException {
        var stored = new ConcurrentHashMap<String, Published>();
        var failures = new ConcurrentHashMap<String, Integer>();
        var progress = new AtomicInteger();
        var workers = new ArrayList<Thread>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            workers.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < each; i++) {
                    String text = "t" + thread + "-" + i;
                    try {
                        stored.put(text, client.publish(topic, text.getBytes(UTF_8)));
                    } catch (SluiceClientException e) {
                        failures.merge(e.getClass().getSimpleName() + " " + e.code(), 1, Integer::sum);
                    }
                    progress.incrementAndGet();
                }
            }));
        }
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (progress.get() < threads * each / 4) {   // a quarter done: the restart comes mid-flight
            assertTrue(System.nanoTime() < deadline, "the publishers made no progress");
            LockSupport.parkNanos(1_000_000);
        }
        meanwhile.run();
        for (Thread w : workers) {
            assertTrue(w.join(WAIT.multipliedBy(2)), "a publisher did not finish");
        }
        return new Outcome(stored, failures);
    }

    private void assertAcknowledgedStored(SluiceClient client, String topic, Outcome outcome)
            throws InterruptedException {
        // After a restart the client's channel may still be in its reconnect backoff: a call fails
        // fast as UNAVAILABLE until it has reconnected.
        var stats = new AtomicReference<List<TopicStats>>();
        Await.until("the client reaches the broker again", () -> {
            try {
                stats.set(client.stats(topic));
                return true;
            } catch (SluiceClientException.Unavailable e) {
                return false;
            }
        });
        long total = stats.get().getFirst().totalMessages();
        assertTrue(total >= outcome.stored().size(), total + " stored, " + outcome.stored().size() + " acknowledged");
        Map<Long, Message> all = readAll(client, topic, (int) total);
        outcome.stored().forEach((text, p) -> assertEquals(text, all.get(p.sequence()).payloadText()));
    }

    @Test
    void aBrokerRestartFailsOnlyUnansweredPublishesAsUnavailableAndLosesNothingAcknowledged() throws Exception {
        SluiceClient client = client(PublishOptions.defaults());
        Outcome outcome = publishWhile(client, "restart", 8, 150, broker::restartOnSamePort);
        assertEquals(8 * 150, outcome.stored().size() + outcome.failures().values().stream()
                .mapToInt(Integer::intValue).sum());
        outcome.failures().keySet().forEach(kind -> assertEquals("Unavailable UNAVAILABLE", kind, outcome.toString()));
        assertAcknowledgedStored(client, "restart", outcome);
    }

    @Test
    void withRetryForABrokerRestartRetriesUnansweredPublishesAndEveryOneIsStored() throws Exception {
        SluiceClient client = client(PublishOptions.defaults().withRetryFor(WAIT));
        Outcome outcome = publishWhile(client, "retried", 8, 150, broker::restartOnSamePort);
        assertEquals(Map.of(), outcome.failures());
        assertEquals(8 * 150, outcome.stored().size());
        assertAcknowledgedStored(client, "retried", outcome);
        // At-least-once: a retried publish may be stored twice, never lost.
        long total = client.stats("retried").getFirst().totalMessages();
        Map<Long, Message> all = readAll(client, "retried", (int) total);
        assertEquals(8 * 150, all.values().stream().map(Message::payloadText).distinct().count());
    }

    @Test
    void aCutConnectionMidFlightLosesNothingAcknowledgedAndRetriesTheRest() throws Exception {
        var proxy = closeLater(new TcpProxy(broker.port()));
        var client = closeLater(SluiceClient.connect("127.0.0.1:" + proxy.port(), WAIT,
                PublishOptions.defaults().withRetryFor(WAIT)));
        Outcome outcome = publishWhile(client, "cut", 8, 150, proxy::cutAll);
        assertEquals(Map.of(), outcome.failures());
        assertEquals(8 * 150, outcome.stored().size());
        assertAcknowledgedStored(client, "cut", outcome);
        long total = client.stats("cut").getFirst().totalMessages();
        assertEquals(8 * 150, readAll(client, "cut", (int) total).values().stream().map(Message::payloadText)
                .distinct().count(), "every message stored at least once");
    }

    @Test
    void aPublishQueuedWhileAnotherThreadHeldTheSendLockIsSentWhenItLetsGo() throws Exception {
        SluiceClient client = client(PublishOptions.defaults());
        client.publish("held", "warm".getBytes(UTF_8));   // the stream is open
        Object pipeline = field(field(client, "publishes"), "pipeline");
        var sendLock = (java.util.concurrent.locks.ReentrantLock) field(pipeline, "sendLock");
        var ioThread = (java.util.concurrent.Executor) field(pipeline, "ioThread");
        CompletableFuture<Published> queued;
        sendLock.lock();   // as the deadline sweep holds it for a moment, sending nothing
        try {
            queued = client.publishAsync("held", "while held".getBytes(UTF_8));
            // The I/O thread ran its drain (queued before this marker) and found the lock taken.
            CompletableFuture.runAsync(() -> { }, ioThread).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        } finally {
            sendLock.unlock();
        }
        // Sent within a sweep or two, not left in the queue until its call timeout (30 s).
        assertTrue(queued.get(5, TimeUnit.SECONDS).sequence() > 0);
    }

    @Test
    void closeFailsTheCallersWaitingForRoomInTheWindowAtOnce() throws Exception {
        var proxy = closeLater(new TcpProxy(broker.port()));
        var client = SluiceClient.connect("127.0.0.1:" + proxy.port(), WAIT, PublishOptions.defaults().withWindow(1));
        client.publish("full", "warm".getBytes(UTF_8));
        proxy.holdAnswers();
        client.publishAsync("full", "holds the window".getBytes(UTF_8));
        var failure = new AtomicReference<Throwable>();
        Thread waiting = Thread.ofPlatform().start(() -> {
            try {
                client.publish("full", "waits for room".getBytes(UTF_8));
            } catch (RuntimeException e) {
                failure.set(e);
            }
        });
        Await.until("the caller waits for room", () -> waiting.getState() == Thread.State.TIMED_WAITING);
        Thread closing = Thread.ofPlatform().start(client::close);
        try {
            assertTrue(waiting.join(Duration.ofSeconds(3)), "woken by close, not at its 30 s call timeout");
            assertInstanceOf(SluiceClientException.Unavailable.class, failure.get());
            assertTrue(failure.get().getMessage().contains("closed"), failure.get().getMessage());
        } finally {
            proxy.release();
            closing.join();
        }
    }

    private static Object field(Object owner, String name) throws ReflectiveOperationException {
        var f = owner.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(owner);
    }
}
