package io.sluice.bench;

import com.google.protobuf.UnsafeByteOperations;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.PublishRequest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenario 4, end to end through one subscriber (CONSUMER_GROUP, 1,000 credits topped up as messages
 * arrive, a cumulative ack every 500th): draining a backlog filled beforehand with BatchPublish of
 * 1,000 (the fill is not timed), then live, reading while 64 publishers publish, each message carrying
 * its send time so the subscriber measures publish-to-delivery latency.
 */
final class EndToEndScenario {
    static final int WINDOW = 1000;
    static final int ACK_EVERY = 500;
    static final int FILL_BATCH = 1000;
    static final int FILL_BATCHERS = 4;
    static final int LIVE_PUBLISHERS = 64;
    static final long STALL = TimeUnit.SECONDS.toNanos(30);

    private EndToEndScenario() {
    }

    static void run(Session s) throws InterruptedException {
        s.done(drain(s));
        s.done(live(s));
    }

    private static Row drain(Session s) throws InterruptedException {
        int backlog = s.options().backlog();
        String name = String.format("drain a %,d backlog, 1 subscriber", backlog);
        String topic = s.topic("s4.drain");
        long fillStart = System.nanoTime();
        String fillFailure = fill(s, topic, backlog);
        double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
        if (fillFailure != null) {
            return Row.without(4, name, "filling the backlog failed: " + fillFailure);
        }
        List<String> notes = new ArrayList<>();
        notes.add(String.format("backlog filled with BatchPublish of %,d at %,.0f msg/s (not timed)", FILL_BATCH,
                backlog / fillSeconds));

        Probe.Window window = s.probe().begin();
        long begun = System.nanoTime();
        var consumer = new Consumer(topic, "drain", WINDOW, ACK_EVERY, null).start(s.clients().subscriberStub());
        boolean done = consumer.awaitReceived(backlog, STALL, begun + TimeUnit.MINUTES.toNanos(10));
        long received = consumer.received();
        long last = received > 0 ? consumer.lastNanos() : System.nanoTime();
        Resources resources = window.end();
        consumer.close();
        if (!done) {
            notes.add(String.format("stopped after %,d of %,d messages: %s", received, backlog,
                    consumer.ended() != null ? "the stream ended: " + consumer.ended() : "no progress for 30 s"));
        }
        if (received > 0) {
            notes.add(String.format("first delivery %.1f ms after the subscribe",
                    (consumer.firstNanos() - begun) / 1e6));
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        double seconds = (last - begun) / 1e9;
        return Row.of(4, name, new Measured(received, seconds, Latency.Summary.NONE, done ? 0 : 1, resources, notes));
    }

    /** Publishes {@code count} messages of 100 B in batches; null when all were stored, else the first error. */
    static String fill(Session s, String topic, int count) throws InterruptedException {
        int batches = (count + FILL_BATCH - 1) / FILL_BATCH;
        BatchPublishRequest full = PublishScenarios.batchRequest(topic, FILL_BATCH, 100);
        int rest = count - (batches - 1) * FILL_BATCH;
        BatchPublishRequest last = PublishScenarios.batchRequest(topic, rest, 100);
        var issued = new AtomicLong();
        return CountedLoop.run(FILL_BATCHERS, batches, 600, (w, done) -> {
            BatchPublishRequest request = issued.incrementAndGet() == batches ? last : full;
            s.clients().stub(w).batchPublish(request, new Answer<>(done, request.getMessagesCount()));
        });
    }

    private static Row live(Session s) throws InterruptedException {
        String name = "live: " + LIVE_PUBLISHERS + " publishers, 1 subscriber";
        String topic = s.topic("s4.live");
        var endToEnd = new Latency();
        var consumer = new Consumer(topic, "live", WINDOW, ACK_EVERY,
                (d, arrived) -> endToEnd.record(arrived - d.getPayload().asReadOnlyByteBuffer().getLong(0)))
                .start(s.clients().subscriberStub());
        var published = new LongAdder();
        long[] deliveredBefore = new long[1];
        long[] deliveredInWindow = new long[1];
        Latency.Summary[] latency = new Latency.Summary[1];
        Measured publish = ClosedLoop.run(s, LIVE_PUBLISHERS, (w, done) -> {
                    byte[] payload = new byte[100];
                    ByteBuffer.wrap(payload).putLong(0, System.nanoTime());
                    s.clients().stub(w).publish(PublishRequest.newBuilder()
                            .setTopic(topic)
                            .setPayload(UnsafeByteOperations.unsafeWrap(payload))
                            .build(), new Answer<>((messages, error) -> {
                                if (error == null) {
                                    published.increment();
                                }
                                done.done(messages, error);
                            }, 1));
                },
                () -> {
                    endToEnd.restart();
                    deliveredBefore[0] = consumer.received();
                },
                () -> {
                    deliveredInWindow[0] = consumer.received() - deliveredBefore[0];
                    latency[0] = endToEnd.take();
                });
        List<String> notes = new ArrayList<>(publish.notes());
        notes.add(String.format("published %,.0f msg/s meanwhile (publish p99 %.2f ms)", publish.perSecond(),
                publish.latency().p99()));
        long total = published.sum();
        if (!consumer.awaitReceived(total, STALL, System.nanoTime() + TimeUnit.MINUTES.toNanos(2))) {
            notes.add(String.format("the subscriber got %,d of the %,d messages published%s", consumer.received(),
                    total, consumer.ended() != null ? "; the stream ended: " + consumer.ended() : ""));
        }
        consumer.close();
        return Row.of(4, name, new Measured(deliveredInWindow[0], publish.seconds(), latency[0], publish.errors(),
                publish.resources(), notes));
    }
}
