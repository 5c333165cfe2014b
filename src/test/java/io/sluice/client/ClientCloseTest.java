package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.server.TestBroker;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Closing a subscription right after acking, in a shared and an exclusive group: {@code close()}
 * returns once the broker has committed the acks (AckSync), on a broker whose commits are slow; and
 * closing a client returns once every answered publish's future is completed.
 */
class ClientCloseTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** How long each commit takes while {@link #slow} is set: a slow disk. */
    private static final long SLOW_COMMIT_MILLIS = 200;

    @TempDir
    Path dir;
    private final AtomicBoolean slow = new AtomicBoolean();
    private TestBroker broker;
    private SluiceClient client;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir, c -> c.withStoreOptions(StoreOptions.defaults().withBeforeCommit(writes -> {
            if (slow.get()) {
                Thread.sleep(SLOW_COMMIT_MILLIS);
            }
        })));
        client = SluiceClient.connect("127.0.0.1:" + broker.port());
    }

    @AfterEach
    void stop() throws InterruptedException {
        slow.set(false);
        client.close();
        broker.close();
    }

    private long pending(String topic, String group) {
        return client.stats(topic).getFirst().groups().stream().filter(g -> g.group().equals(group))
                .mapToLong(TopicStats.GroupStats::pending).findFirst().orElseThrow();
    }

    @ParameterizedTest(name = "shared: {0}")
    @ValueSource(booleans = {true, false})
    void closeReturnsOnceTheBrokerCommittedTheAcksSoNoneComesAgain(boolean shared) throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            client.publish("jobs", ("job-" + i).getBytes());
        }
        client.configureGroup("jobs", "workers", shared, GroupSettings.defaults().withAckWait(Duration.ofMinutes(1)));
        var options = SubscriptionOptions.of("jobs").withGroup("workers").from(Position.EARLIEST);
        Subscription s = open(options, shared);
        for (int i = 0; i < 5; i++) {
            s.ack(s.receive(WAIT).orElseThrow(() -> new AssertionError("no message within " + WAIT)));
        }
        slow.set(true);
        s.close();
        assertEquals(0, pending("jobs", "workers"), "every ack committed when close() returned");
        slow.set(false);

        try (Subscription again = open(options, shared)) {
            assertEquals(java.util.Optional.empty(), again.receive(Duration.ofMillis(500)),
                    "nothing comes again (the lease of a lost ack would last a minute)");
        }
    }

    private Subscription open(SubscriptionOptions options, boolean shared) {
        return shared ? client.subscribeShared(options) : client.subscribe(options);
    }

    @Test
    void closeReturnsOnceTheFuturesOfAnsweredPublishesAreCompletedBehindASlowCallback() throws Exception {
        var closing = SluiceClient.connect("127.0.0.1:" + broker.port());
        var slowCallback = new CountDownLatch(1);   // never counted down: the callback waits its 300 ms
        var futures = new ArrayList<CompletableFuture<Published>>();
        futures.add(closing.publishAsync("futures", new byte[1], Map.of()));
        futures.getFirst().thenRun(() -> {
            try {
                slowCallback.await(300, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        for (int i = 0; i < 200; i++) {
            futures.add(closing.publishAsync("futures", new byte[1], Map.of()));
        }
        closing.close();
        assertEquals(List.of(), futures.stream().filter(f -> !f.isDone()).toList(), "futures pending after close()");
    }
}
