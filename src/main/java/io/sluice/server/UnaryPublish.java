package io.sluice.server;

import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.trace.Span;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.WhenFull;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * One Publish or BatchPublish call from its checked messages to its answer: it owns the start
 * time, the messages' spans, the call's response stream and the thread the answer goes out on.
 * {@link #start()} queues the messages to the store where the call arrived (a transport thread),
 * never blocking; when the store's queue is full it waits for room on a thread that may block. The
 * store tells it the outcome after the commit (on the store's thread), and it hands the answer to
 * the call's transport thread, where metrics and spans are recorded and the response is sent.
 *
 * <p>The path of a message: {@link SluiceService} (parse, check through {@link Publisher}) → this
 * → {@link io.sluice.store.Store#append} (the backend's group commit) → back here → the client.
 */
final class UnaryPublish<T> implements Completion<List<Appended>> {
    private static final System.Logger LOG = System.getLogger(UnaryPublish.class.getName());

    private final long started = System.nanoTime();
    private final Publisher publisher;
    private final String topic;
    private final List<NewMessage> messages;
    private final OptionalLong expectedLast;
    private final StreamObserver<T> out;
    private final Executor answerOn;
    private final Function<List<Appended>, T> response;
    private final List<Span> spans;

    /**
     * A publish of {@code messages} (already checked) to {@code topic}, stored only if the topic's
     * last sequence is {@code expectedLast} (when present), answered on {@code answerOn} with
     * {@code response} of what was stored, or with the status of its failure.
     */
    UnaryPublish(Publisher publisher, String topic, List<NewMessage> messages, OptionalLong expectedLast,
                 StreamObserver<T> out, Executor answerOn, Function<List<Appended>, T> response) {
        this.publisher = publisher;
        this.topic = topic;
        this.messages = messages;
        this.expectedLast = expectedLast;
        this.out = out;
        this.answerOn = answerOn;
        this.response = response;
        Tracing tracing = publisher.tracing();
        if (tracing.enabled()) {
            spans = new ArrayList<>(messages.size());
            for (NewMessage m : messages) {
                spans.add(tracing.startPublish(topic, m.attributes()));
            }
        } else {
            spans = List.of();
        }
    }

    /** Queues the messages to the store; never blocks the calling (transport) thread. */
    void start() {
        if (!publisher.store().append(topic, messages, expectedLast, WhenFull.DECLINE, this)) {
            publisher.waiting().execute(this::appendWaiting);
        }
    }

    /** The store's queue was full: waits for room (on a thread that may block). */
    private void appendWaiting() {
        try {
            publisher.store().append(topic, messages, expectedLast, WhenFull.WAIT, this);
        } catch (SluiceException e) {
            failed(e);
        }
    }

    @Override
    public void committed(List<Appended> stored) {
        long nanos = System.nanoTime() - started;
        handOn(() -> {
            publisher.metrics().published(topic, (int) stored.stream().filter(a -> !a.duplicate()).count(), nanos);
            for (int i = 0; i < spans.size(); i++) {
                Tracing.published(spans.get(i), stored.get(i).id().toString(), stored.get(i).sequence());
            }
            send(() -> {
                out.onNext(response.apply(stored));
                out.onCompleted();
            });
        });
    }

    @Override
    public void failed(SluiceException error) {
        handOn(() -> {
            spans.forEach(s -> Tracing.failed(s, error));
            send(() -> out.onError(Statuses.of(error)));
        });
    }

    private void handOn(Runnable answer) {
        try {
            answerOn.execute(answer);
        } catch (RejectedExecutionException e) {
            // The transport has stopped: the call is gone and no answer can be sent.
            LOG.log(Level.DEBUG, () -> "publish to " + topic + " finished after its transport stopped");
        }
    }

    /** A call cancelled meanwhile refuses its answer: nobody is left to tell. */
    private void send(Runnable answer) {
        try {
            answer.run();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "a publish to " + topic + " ended before its answer: " + e);
        }
    }
}
