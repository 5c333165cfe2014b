package io.sluice.bench;

import io.sluice.client.Message;
import io.sluice.client.SluiceClient;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Scenario 8: the project's Java client ({@link SluiceClient}) used as an application uses it, one
 * client for the whole run, one call per message of 100 B: 1, 16 and 64 threads each publishing and
 * waiting; 1 and 16 threads with many futures outstanding; one {@link Subscription} (1,000 credits)
 * draining a backlog, acknowledging every message.
 */
final class ClientScenarios {
    static final int[] WAITING = {1, 16, 64};
    static final int[] ASYNC = {1, 16};
    static final int SIZE = 100;
    static final int DRAIN_WINDOW = 1000;
    static final Duration STALL = Duration.ofSeconds(30);

    private ClientScenarios() {
    }

    static void run(Session s) throws InterruptedException {
        byte[] payload = PublishScenarios.payload(SIZE).toByteArray();
        try (var client = SluiceClient.connect(s.target())) {
            for (int threads : WAITING) {
                String topic = s.topic("s8.waiting.t" + threads);
                Measured m = AppLoad.waiting(s, threads, () -> client.publish(topic, payload));
                s.done(Row.of(8, "client publish 100 B, " + threads + " thread" + (threads == 1 ? "" : "s")
                        + " waiting", m));
            }
            for (int threads : ASYNC) {
                String topic = s.topic("s8.async.t" + threads);
                Measured m = AppLoad.outstanding(s, threads, () -> client.publishAsync(topic, payload));
                s.done(Row.of(8, "client publishAsync 100 B, " + threads + " thread" + (threads == 1 ? "" : "s")
                        + ", futures outstanding", m));
            }
        }
        s.done(drain(s));
    }

    private static Row drain(Session s) throws InterruptedException {
        int backlog = s.options().backlog();
        String name = String.format("client Subscription drains %,d, ack each", backlog);
        String topic = s.topic("s8.drain");
        long fillStart = System.nanoTime();
        String fillFailure = EndToEndScenario.fill(s, topic, backlog);
        if (fillFailure != null) {
            return Row.without(8, name, "filling the backlog failed: " + fillFailure);
        }
        List<String> notes = new ArrayList<>();
        notes.add(String.format("backlog filled with BatchPublish at %,.0f msg/s (not timed); credit window %,d",
                backlog / ((System.nanoTime() - fillStart) / 1e9), DRAIN_WINDOW));
        long received = 0;
        long begun;
        long last;
        Resources resources;
        String stopped = null;
        try (var client = SluiceClient.connect(s.target())) {
            String warm = warmDrain(client, topic, backlog, s.options().warmup());
            if (warm != null) {
                notes.add("the warm-up drain " + warm);
            }
            Probe.Window window = s.probe().begin();
            begun = System.nanoTime();
            last = begun;
            try (Subscription sub = client.subscribe(SubscriptionOptions.of(topic).withGroup("drain")
                    .from(SubscriptionOptions.Position.EARLIEST).withCreditWindow(DRAIN_WINDOW))) {
                while (received < backlog) {
                    Optional<Message> m = sub.receive(STALL);
                    if (m.isEmpty()) {
                        stopped = "no message for " + STALL.toSeconds() + " s";
                        break;
                    }
                    sub.ack(m.get());
                    received++;
                }
                last = System.nanoTime();
            } catch (RuntimeException e) {
                stopped = e.toString();
                last = System.nanoTime();
            }
            resources = window.end();
        }
        if (stopped != null) {
            notes.add(String.format("stopped after %,d of %,d messages: %s", received, backlog, stopped));
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        double seconds = (last - begun) / 1e9;
        notes.add("after a warm-up drain of the same backlog by another group for " + Bench.human(s.options().warmup()));
        return Row.of(8, name, new Measured(received, seconds, Latency.Summary.NONE, stopped == null ? 0 : 1,
                resources, notes));
    }

    /**
     * As the other rows run after a warm-up: another group drains the same backlog, an ack per message,
     * for {@code warmup} (or until it drained all {@code backlog}), so the measured drain runs the client's and the
     * broker's compiled code. Null when it ran, else what stopped it.
     */
    private static String warmDrain(SluiceClient client, String topic, int backlog, Duration warmup)
            throws InterruptedException {
        long end = System.nanoTime() + warmup.toNanos();
        try (Subscription sub = client.subscribe(SubscriptionOptions.of(topic).withGroup("drain-warmup")
                .from(SubscriptionOptions.Position.EARLIEST).withCreditWindow(DRAIN_WINDOW))) {
            for (long received = 0; received < backlog && System.nanoTime() - end < 0; received++) {
                Optional<Message> m = sub.receive(STALL);
                if (m.isEmpty()) {
                    return "stopped: no message for " + STALL.toSeconds() + " s";
                }
                sub.ack(m.get());
            }
            return null;
        } catch (RuntimeException e) {
            return "stopped: " + e;
        }
    }
}
