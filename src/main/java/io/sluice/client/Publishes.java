package io.sluice.client;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import io.grpc.stub.StreamObserver;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.PublishResult;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.SluiceGrpc;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The publishes of a {@link SluiceClient}: single messages on the shared {@link Pipeline} (or as unary
 * calls, by option, when the broker has no PublishStream, and on the thread completing the pipeline's
 * futures, which must not wait for one of its own answers), and batches as one unary call.
 * Thread-safe; see {@link SluiceClient} for the threads that complete the futures.
 */
final class Publishes implements AutoCloseable {
    private final Calls calls;
    private final SluiceGrpc.SluiceStub async;
    private final PublishOptions options;
    private final Pipeline pipeline;

    Publishes(Calls calls, SluiceGrpc.SluiceStub async, EventExecutor io, Executor callbacks,
              Runnable resetConnectBackoff, String target, PublishOptions options) {
        this.calls = calls;
        this.async = async;
        this.options = options;
        this.pipeline = new Pipeline(async, io, callbacks, resetConnectBackoff, this::unaryAsync, target,
                calls.timeout, options);
    }

    /** Throws NullPointerException naming the argument that is null (a null attribute map included). */
    private static void requireArguments(String topic, byte[] payload, Map<String, String> attributes) {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(attributes, "attributes (Map.of() for none)");
        attributes.forEach((key, value) -> {
            Objects.requireNonNull(key, "an attribute's key");
            Objects.requireNonNull(value, () -> "the value of attribute " + key + " (\"\" for an empty one)");
        });
    }

    /** See {@link SluiceClient#publish(String, byte[], Map)}. */
    Published publish(String topic, byte[] payload, Map<String, String> attributes) {
        requireArguments(topic, payload, attributes);
        if (options.unary() || !pipeline.streaming() || pipeline.onAnswerThread()) {
            // On the thread that delivers the stream's answers, waiting for one would wait for itself.
            return published(calls.call(() -> calls.stub().publish(request(topic, payload, attributes))));
        }
        return await(pipeline.submit(topic, payload, attributes, null, true).future);
    }

    /** Waits for a pipelined publish: the pipeline fails an overdue one itself; the margin only bounds this wait. */
    private <T> T await(CompletableFuture<T> future) {
        long timeoutNanos = calls.timeout.toNanos();
        try {
            return future.get(timeoutNanos + 4 * Pipeline.SWEEP.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SluiceClientException f) {
                throw f;
            }
            throw calls.failure(e.getCause());
        } catch (TimeoutException e) {
            throw calls.failure(Status.DEADLINE_EXCEEDED.withDescription("no answer within the call timeout of "
                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms; the message may have been stored")
                    .asRuntimeException());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw calls.failure(Status.CANCELLED.withDescription("interrupted while waiting for the answer; the "
                    + "message may have been stored").asRuntimeException());
        }
    }

    /** See {@link SluiceClient#publish(String, byte[], Map, PublishGuarantees)}. */
    PublishOutcome publish(String topic, byte[] payload, Map<String, String> attributes,
                           PublishGuarantees guarantees) {
        requireArguments(topic, payload, attributes);
        Objects.requireNonNull(guarantees, "guarantees");
        if (options.unary() || !pipeline.streaming() || pipeline.onAnswerThread()) {
            PublishResponse r = calls.call(() -> calls.stub().publish(request(topic, payload, attributes, guarantees)));
            return outcome(r);
        }
        return await(pipeline.submit(topic, payload, attributes, guarantees, true).outcome);
    }

    /** See {@link SluiceClient#publishAsync(String, byte[], Map)}. */
    CompletableFuture<Published> publishAsync(String topic, byte[] payload, Map<String, String> attributes) {
        requireArguments(topic, payload, attributes);
        // Unary calls too go through the pipeline: its window bounds them, its callback thread completes them.
        return pipeline.submit(topic, payload, attributes, null, false).future;
    }

    /** See {@link SluiceClient#publishAsync(String, byte[], Map, PublishGuarantees)}. */
    CompletableFuture<PublishOutcome> publishAsync(String topic, byte[] payload, Map<String, String> attributes,
                                                   PublishGuarantees guarantees) {
        requireArguments(topic, payload, attributes);
        Objects.requireNonNull(guarantees, "guarantees");
        return pipeline.submit(topic, payload, attributes, guarantees, false).outcome;
    }

    /** A pipelined request sent as a unary call instead (a broker without PublishStream). */
    private CompletableFuture<PublishOutcome> unaryAsync(PublishStreamRequest r) {
        var request = PublishRequest.newBuilder().setTopic(r.getTopic()).setPayload(r.getPayload())
                .putAllAttributes(r.getAttributesMap()).setDedupId(r.getDedupId());
        if (r.hasExpectedLastSequence()) {
            request.setExpectedLastSequence(r.getExpectedLastSequence());
        }
        return unaryAsync(request.build(), Publishes::outcome);
    }

    private <T> CompletableFuture<T> unaryAsync(PublishRequest request, Function<PublishResponse, T> answer) {
        var result = new CompletableFuture<T>();
        async.withDeadlineAfter(calls.timeout.toNanos(), TimeUnit.NANOSECONDS)
                .publish(request, new StreamObserver<>() {
                    @Override
                    public void onNext(PublishResponse r) {
                        result.complete(answer.apply(r));
                    }

                    @Override
                    public void onError(Throwable t) {
                        result.completeExceptionally(calls.failure(t));
                    }

                    @Override
                    public void onCompleted() {
                        // the answer came in onNext
                    }
                });
        return result;
    }

    /** See {@link SluiceClient#publishBatch}. */
    List<Published> publishBatch(String topic, List<OutboundMessage> messages) {
        var request = BatchPublishRequest.newBuilder().setTopic(topic);
        for (OutboundMessage m : messages) {
            request.addMessages(BatchMessage.newBuilder()
                    .setPayload(ByteString.copyFrom(m.payloadUnsafe()))
                    .putAllAttributes(m.attributes()));
        }
        BatchPublishResponse r = calls.call(() -> calls.stub().batchPublish(request.build()));
        var out = new ArrayList<Published>(r.getResultsCount());
        for (PublishResult p : r.getResultsList()) {
            // A broker older than PublishResult.timestamp gives the batch's alone.
            out.add(new Published(p.getMessageId(), p.getSequence(), p.getTimestamp() != 0 ? p.getTimestamp()
                    : r.getTimestamp()));
        }
        return out;
    }

    private static PublishRequest request(String topic, byte[] payload, Map<String, String> attributes) {
        return PublishRequest.newBuilder().setTopic(topic).setPayload(ByteString.copyFrom(payload))
                .putAllAttributes(attributes).build();
    }

    private static PublishRequest request(String topic, byte[] payload, Map<String, String> attributes,
                                          PublishGuarantees guarantees) {
        var request = request(topic, payload, attributes).toBuilder();
        if (guarantees.dedupId() != null) {
            request.setDedupId(guarantees.dedupId());
        }
        guarantees.expectedLastSequence().ifPresent(request::setExpectedLastSequence);
        return request.build();
    }

    private static Published published(PublishResponse r) {
        return new Published(r.getMessageId(), r.getSequence(), r.getTimestamp());
    }

    private static PublishOutcome outcome(PublishResponse r) {
        return new PublishOutcome(published(r), r.getDuplicate());
    }

    /** Lets the pipelined publishes already made finish (up to 5 s); later ones fail. */
    @Override
    public void close() {
        pipeline.close();
    }
}
