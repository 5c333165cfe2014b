package io.sluice.server;

import io.opentelemetry.api.trace.Span;
import io.sluice.domain.SluiceException;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.util.List;

/**
 * One PublishStream request on its way to its answer: completed by the writer thread (committed or
 * refused), then turned into a {@link PublishStreamResponse} by the stream's sender, in request order
 * ({@link PublishStreamHandler}). Completing it only marks it done and asks for a flush.
 */
final class StreamAnswer implements Completion<List<Appended>> {
    final long requestId;
    final String topic;
    final long bytes;
    private final long startedNanos = System.nanoTime();
    private final BrokerMetrics metrics;
    private final Runnable flush;
    Span span = Span.getInvalid();
    // Written before the answer is marked done (a volatile write), read after seeing it done.
    private Appended stored;
    private SluiceException refused;
    private long committedNanos;
    volatile boolean done;

    /** {@code flush} asks the stream's sender to send what is complete (called once, when done). */
    StreamAnswer(long requestId, String topic, long bytes, BrokerMetrics metrics, Runnable flush) {
        this.requestId = requestId;
        this.topic = topic;
        this.bytes = bytes;
        this.metrics = metrics;
        this.flush = flush;
    }

    @Override
    public void committed(List<Appended> result) {
        stored = result.getFirst();
        committedNanos = System.nanoTime();
        done = true;
        flush.run();
    }

    @Override
    public void failed(SluiceException error) {
        refuse(error);
    }

    /** Answers with {@code error} instead of a stored message (a bad request, a refused write). */
    void refuse(SluiceException error) {
        refused = error;
        done = true;
        flush.run();
    }

    /** The answer; only once done. Records the publish (metric, span) as it is built. */
    PublishStreamResponse response() {
        if (refused != null) {
            Tracing.failed(span, refused);
            return PublishStreamResponse.newBuilder()
                    .setRequestId(requestId)
                    .setErrorCode(Statuses.codeOf(refused).value())
                    .setErrorMessage(refused.getMessage())
                    .build();
        }
        String id = stored.id().toString();
        Tracing.published(span, id, stored.sequence());
        metrics.published(topic, stored.duplicate() ? 0 : 1, committedNanos - startedNanos);
        return PublishStreamResponse.newBuilder()
                .setRequestId(requestId)
                .setMessageId(id)
                .setSequence(stored.sequence())
                .setTimestamp(stored.timestamp())
                .setDuplicate(stored.duplicate())
                .build();
    }
}
