package io.sluice.bench;

import io.sluice.proto.ConfigureConsumerGroupRequest;
import io.sluice.proto.ConsumerGroupConfig;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscriptionMode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Scenarios 13 and 14, shared groups (competing consumers). 13: one backlog (filled with BatchPublish,
 * not timed) drained by a shared group of 1, then 4, then 16 streams (a new group each time), every
 * message acked on its own (each ack settles one message; 1,000 credits per stream topped up as
 * messages arrive). 14: on a topic with the same backlog, a group whose one consumer nacks everything
 * (its redelivery rate is bounded by max in flight over the backoff) while a group of 4 streams that
 * acks everything drains the backlog: the second row is that group's throughput, to be compared with
 * the 4-stream row of 13.
 */
final class SharedScenario {
    static final int WINDOW = 1000;
    static final long STALL = TimeUnit.SECONDS.toNanos(30);
    static final int NACK_BACKOFF_MS = 200;

    private SharedScenario() {
    }

    static void drains(Session s) throws InterruptedException {
        int backlog = s.options().backlog();
        String topic = s.topic("s13.shared");
        String failure = EndToEndScenario.fill(s, topic, backlog);
        if (failure != null) {
            s.done(Row.without(13, "shared drain", "filling the backlog failed: " + failure));
            return;
        }
        for (int streams : new int[] {1, 4, 16}) {
            s.done(drain(s, 13, topic, "g" + streams, streams, backlog,
                    String.format("shared group of %d stream%s drains a %,d backlog, an ack per message", streams,
                            streams == 1 ? "" : "s", backlog), List.of()));
        }
    }

    static void redelivery(Session s) throws InterruptedException {
        int backlog = s.options().backlog();
        String topic = s.topic("s14.nacked");
        String failure = EndToEndScenario.fill(s, topic, backlog);
        if (failure != null) {
            s.done(Row.without(14, "redelivery", "filling the backlog failed: " + failure));
            return;
        }
        var admin = SluiceGrpc.newBlockingStub(s.clients().stub(0).getChannel());
        admin.configureConsumerGroup(ConfigureConsumerGroupRequest.newBuilder().setTopic(topic)
                .setConsumerGroup("nacker").setMode(SubscriptionMode.SHARED)
                .setInitialPosition(InitialPosition.EARLIEST)
                .setConfig(ConsumerGroupConfig.newBuilder().addBackoffMs(NACK_BACKOFF_MS)).build());
        var nacker = new Consumer(topic, "nacker", WINDOW, 1, null).shared(true).start(s.clients().stub(1));
        long nackStart = System.nanoTime();
        Row workers = drain(s, 14, topic, "workers", 4, backlog,
                String.format("shared group of 4 streams drains a %,d backlog while another group nacks everything",
                        backlog), List.of());
        double nackSeconds = (System.nanoTime() - nackStart) / 1e9;
        long nacked = nacker.received();
        nacker.close();
        s.done(workers.withNote(String.format("the nacking group got %,d deliveries meanwhile (%,.0f/s; bounded by "
                + "max in flight 1,000 per %d ms backoff, %,.0f/s)", nacked, nacked / nackSeconds, NACK_BACKOFF_MS,
                1000.0 * 1000 / NACK_BACKOFF_MS)));
        s.done(Row.of(14, "redeliveries to a group that nacks everything (backoff " + NACK_BACKOFF_MS + " ms)",
                new Measured(nacked, nackSeconds, Latency.Summary.NONE, 0, Resources.NONE, List.of())));
    }

    private static Row drain(Session s, int scenario, String topic, String group, int streams, int backlog,
                             String name, List<String> extra) throws InterruptedException {
        Probe.Window window = s.probe().begin();
        long begun = System.nanoTime();
        var consumers = new ArrayList<Consumer>();
        for (int i = 0; i < streams; i++) {
            consumers.add(new Consumer(topic, group, WINDOW, 1, null).shared(false).start(s.clients().stub(i + 2)));
        }
        long deadline = begun + TimeUnit.MINUTES.toNanos(10);
        boolean done = true;
        long received = 0;
        long stallSince = System.nanoTime();
        long seen = 0;
        while (true) {
            received = consumers.stream().mapToLong(Consumer::received).sum();
            if (received >= backlog) {
                break;
            }
            long now = System.nanoTime();
            if (received != seen) {
                seen = received;
                stallSince = now;
            } else if (now - stallSince > STALL || now - deadline > 0) {
                done = false;
                break;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));   // sampling the count
        }
        long last = consumers.stream().mapToLong(Consumer::lastNanos).max().orElse(System.nanoTime());
        Resources resources = window.end();
        consumers.forEach(Consumer::close);
        List<String> notes = new ArrayList<>(extra);
        if (!done) {
            notes.add(String.format("stopped after %,d of %,d messages", received, backlog));
        }
        resources = resources.withHeapAfterGc(s.probe().heapAfterGcKb());
        return Row.of(scenario, name, new Measured(received, (last - begun) / 1e9, Latency.Summary.NONE,
                done ? 0 : 1, resources, notes));
    }
}
