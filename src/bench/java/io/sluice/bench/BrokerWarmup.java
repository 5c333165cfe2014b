package io.sluice.bench;

import io.sluice.proto.PublishRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.LongAdder;

/**
 * Brings a freshly started broker to steady state before its scenario is measured: a JVM runs its hot
 * paths interpreted, then compiled once and again, for its first seconds under load, and a broker that
 * has been serving for a while is past that. For two fifths of {@code --broker-warmup}, 64
 * closed-loop publishers publish 100 B messages to a warm-up topic; for one fifth, one PublishStream
 * with a window of 256 does (without it, the broker compiled the stream's path during the first
 * seconds of a fixed-rate stream row: 400 compilations a second); for the rest, at most, one
 * subscriber drains what they stored, then a shared group of two streams acking each message reads
 * it again (without it, the broker compiled the shared groups' lease and settle paths during the
 * first shared drain: a third of its CPU went to the compiler). Nothing of it is measured; the
 * table's header says how long it ran.
 */
final class BrokerWarmup {
    private static final int PUBLISHERS = 64;
    private static final int SHARED_STREAMS = 2;

    private BrokerWarmup() {
    }

    /** Null when the warm-up ran (or is off), else what failed; a failed warm-up is noted, not fatal. */
    static String run(Session s) throws InterruptedException {
        Duration total = s.options().brokerWarmup();
        if (total.isZero()) {
            return null;
        }
        String topic = s.topic("warmup");
        var request = PublishRequest.newBuilder().setTopic(topic).setPayload(PublishScenarios.payload(100)).build();
        var published = new LongAdder();
        Duration unary = total.multipliedBy(2).dividedBy(5);
        Duration stream = total.dividedBy(5);
        Duration drain = total.minus(unary).minus(stream);
        String failure = CountedLoop.runFor(PUBLISHERS, unary,
                (w, done) -> s.clients().stub(w).publish(request, new Answer<>((messages, error) -> {
                    published.add(messages);
                    done.done(messages, error);
                }, 1)));
        if (failure != null) {
            return "the warm-up publishes failed: " + failure;
        }
        StreamScenario.Unmeasured streamed = StreamScenario.unmeasured(s, topic, stream);
        published.add(streamed.stored());
        long drainEnd = System.nanoTime() + drain.toNanos();
        var consumer = new Consumer(topic, "warmup", EndToEndScenario.WINDOW, EndToEndScenario.ACK_EVERY, null)
                .start(s.clients().subscriberStub());
        try {
            consumer.awaitReceived(published.sum(), EndToEndScenario.STALL, drainEnd - drain.toNanos() / 2);
        } finally {
            consumer.close();
        }
        var shared = new ArrayList<Consumer>();
        try {
            for (int i = 0; i < SHARED_STREAMS; i++) {
                shared.add(new Consumer(topic, "warmup-shared", SharedScenario.WINDOW, 1, null).shared(false)
                        .start(s.clients().stub(i)));
            }
            long want = published.sum();
            while (System.nanoTime() - drainEnd < 0 && shared.stream().mapToLong(Consumer::received).sum() < want) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));   // sampling the count
            }
        } finally {
            shared.forEach(Consumer::close);
        }
        return streamed.failure() == null ? null : "the warm-up stream failed: " + streamed.failure();
    }
}
