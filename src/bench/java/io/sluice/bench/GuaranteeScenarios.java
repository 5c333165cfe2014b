package io.sluice.bench;

import io.grpc.stub.StreamObserver;
import io.sluice.proto.ConfigureTopicRequest;
import io.sluice.proto.ConfigureTopicResponse;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.TopicConfig;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scenarios 11 and 12: what the publish guarantees and retention cost. 11: unary Publish of 100 B by
 * 64 publishers without dedup ids, then with a new dedup id on every publish (target: at least 0.8x).
 * 12: the same load into a topic without limits, then into a DISCARD_OLD topic filled to its
 * max_messages (every commit removes as many messages as it stores: removal at the ingest rate),
 * then three more windows of that churn, reading the database file's size after each (it should
 * stay flat: the freed pages are reused).
 */
final class GuaranteeScenarios {
    static final int PUBLISHERS = 64;
    static final int SIZE = 100;
    static final int RETAINED = 100_000;
    static final int CHURN_WINDOWS = 3;

    private GuaranteeScenarios() {
    }

    static void dedup(Session s) {
        var plain = PublishRequest.newBuilder().setTopic(s.topic("s11.plain")).setPayload(PublishScenarios.payload(SIZE))
                .build();
        Row without = s.done(Row.of(11, "Publish 100 B, 64 publishers, no dedup id", ClosedLoop.run(s, PUBLISHERS,
                (w, done) -> s.clients().stub(w).publish(plain, new Answer<>(done, 1)))));
        var ids = new AtomicLong();
        var template = PublishRequest.newBuilder().setTopic(s.topic("s11.dedup"))
                .setPayload(PublishScenarios.payload(SIZE)).build();
        Row with = Row.of(11, "Publish 100 B, 64 publishers, a dedup id each", ClosedLoop.run(s, PUBLISHERS,
                (w, done) -> s.clients().stub(w).publish(template.toBuilder()
                        .setDedupId("producer-" + w + "-" + ids.incrementAndGet()).build(), new Answer<>(done, 1))));
        s.done(with.withNote(ratio(with, without)));
    }

    static void retention(Session s) throws InterruptedException {
        String open = s.topic("s12.unlimited");
        String bounded = s.topic("s12.discard-old");
        configure(s, bounded, TopicConfig.newBuilder().setMaxMessages(RETAINED).build());
        String failed = EndToEndScenario.fill(s, bounded, RETAINED);
        if (failed != null) {
            s.done(Row.without(12, "fill the DISCARD_OLD topic", failed));
            return;
        }
        Row without = s.done(Row.of(12, "Publish 100 B, 64 publishers, no limit", publish(s, open)));
        Row with = Row.of(12, "Publish 100 B, 64 publishers, DISCARD_OLD at max_messages " + RETAINED
                + " (removing at the ingest rate)", publish(s, bounded));
        s.done(with.withNote(ratio(with, without)).withNote("p99 " + p99(with) + " against " + p99(without)));
        double first = databaseMb(s);
        for (int window = 1; window <= CHURN_WINDOWS; window++) {
            Row churn = Row.of(12, "churn at max_messages " + RETAINED + ", window " + window + " of " + CHURN_WINDOWS,
                    publish(s, bounded));
            s.done(churn.withNote(String.format(Locale.ROOT, "database %.1f MB (%.1f MB before the first window)",
                    databaseMb(s), first)));
        }
    }

    private static Measured publish(Session s, String topic) {
        var request = PublishRequest.newBuilder().setTopic(topic).setPayload(PublishScenarios.payload(SIZE)).build();
        return ClosedLoop.run(s, PUBLISHERS, (w, done) -> s.clients().stub(w).publish(request, new Answer<>(done, 1)));
    }

    private static void configure(Session s, String topic, TopicConfig config) throws InterruptedException {
        var answer = new CompletableFuture<ConfigureTopicResponse>();
        s.clients().stub(0).configureTopic(ConfigureTopicRequest.newBuilder().setTopic(topic).setConfig(config).build(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(ConfigureTopicResponse value) {
                        answer.complete(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answer.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        try {
            answer.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("ConfigureTopic " + topic + " failed: " + e, e);
        }
    }

    private static double databaseMb(Session s) {
        return Scrape.value(s.probe().metricsUrl(), "sluice_database_size_bytes") / 1e6;
    }

    private static String ratio(Row with, Row without) {
        if (with.perSecond() == null || without.perSecond() == null || without.perSecond() == 0) {
            return "no ratio: a run gave no figures";
        }
        return String.format(Locale.ROOT, "%.2fx the same row without", with.perSecond() / without.perSecond());
    }

    private static String p99(Row row) {
        return String.format(Locale.ROOT, "%.2f ms", row.latency().p99());
    }
}
