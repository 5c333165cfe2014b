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
 * 64 publishers without dedup ids, then with a new dedup id on every publish (target: at least 0.8x),
 * then without again. 12: the same load into a topic without limits, then into a DISCARD_OLD topic
 * filled to its max_messages (every commit removes as many messages as it stores: removal at the
 * ingest rate), then without limits again, then three more windows of that churn, reading the
 * database file's size after each (it should stay flat: the freed pages are reused). The baseline
 * runs before and after the measured row, whose ratio is against their mean: on a shared machine
 * the first window after a broker's warm-up and the load of others move figures more than the
 * difference measured.
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
        Row before = s.done(Row.of(11, "Publish 100 B, 64 publishers, no dedup id", ClosedLoop.run(s, PUBLISHERS,
                (w, done) -> s.clients().stub(w).publish(plain, new Answer<>(done, 1)))));
        var ids = new AtomicLong();
        var template = PublishRequest.newBuilder().setTopic(s.topic("s11.dedup"))
                .setPayload(PublishScenarios.payload(SIZE)).build();
        Row with = Row.of(11, "Publish 100 B, 64 publishers, a dedup id each", ClosedLoop.run(s, PUBLISHERS,
                (w, done) -> s.clients().stub(w).publish(template.toBuilder()
                        .setDedupId("producer-" + w + "-" + ids.incrementAndGet()).build(), new Answer<>(done, 1))));
        Row after = s.done(Row.of(11, "Publish 100 B, 64 publishers, no dedup id, again", ClosedLoop.run(s,
                PUBLISHERS, (w, done) -> s.clients().stub(w).publish(plain, new Answer<>(done, 1)))));
        s.done(with.withNote(ratio(with, before, after)));
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
        Row before = s.done(Row.of(12, "Publish 100 B, 64 publishers, no limit", publish(s, open)));
        Row with = Row.of(12, "Publish 100 B, 64 publishers, DISCARD_OLD at max_messages " + RETAINED
                + " (removing at the ingest rate)", publish(s, bounded));
        Row after = s.done(Row.of(12, "Publish 100 B, 64 publishers, no limit, again", publish(s, open)));
        s.done(with.withNote(ratio(with, before, after))
                .withNote("p99 " + p99(with) + " against " + p99(before) + " and " + p99(after)));
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

    /** The measured row against the mean of the baseline before and after it. */
    private static String ratio(Row with, Row before, Row after) {
        if (with.perSecond() == null || before.perSecond() == null || after.perSecond() == null) {
            return "no ratio: a run gave no figures";
        }
        double baseline = (before.perSecond() + after.perSecond()) / 2;
        return String.format(Locale.ROOT, "%.2fx the same row without (the mean of the runs before and after it)",
                with.perSecond() / baseline);
    }

    private static String p99(Row row) {
        return String.format(Locale.ROOT, "%.2f ms", row.latency().p99());
    }
}
