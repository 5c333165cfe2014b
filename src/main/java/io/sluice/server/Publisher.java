package io.sluice.server;

import com.google.protobuf.ByteString;
import io.opentelemetry.api.trace.Span;
import io.sluice.domain.Attributes;
import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.Completion;
import io.sluice.store.NewMessage;
import io.sluice.store.Store;
import io.sluice.store.WhenFull;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Checks a publish against the rules and limits and queues it to the writer without blocking, so a
 * unary publish runs where it arrives (the transport thread) and pays no thread hop. Once the commit
 * is known the outcome is handed to the executor the caller names (its transport thread), where
 * metrics and spans are recorded and the answer is sent: the writer only hands it on. When the
 * writer's queue is full the publish waits for room on a virtual thread instead.
 */
final class Publisher {
    private static final System.Logger LOG = System.getLogger(Publisher.class.getName());

    /** Counted against the batch byte limit for each message besides its payload and attributes: its stored row. */
    static final int MESSAGE_OVERHEAD = 64;

    private final Store store;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final int maxMessageBytes;
    private final int maxBatchBytes;
    private final int maxBatchMessages;
    private final Executor waiting;

    /** {@code waiting} runs the publishes that must wait for room in the writer's queue (threads that may block). */
    Publisher(Store store, BrokerMetrics metrics, Tracing tracing, int maxMessageBytes, int maxBatchBytes,
              int maxBatchMessages, Executor waiting) {
        this.store = store;
        this.metrics = metrics;
        this.tracing = tracing;
        this.maxMessageBytes = maxMessageBytes;
        this.maxBatchBytes = maxBatchBytes;
        this.maxBatchMessages = maxBatchMessages;
        this.waiting = waiting;
    }

    /** The most bytes one message may bring: the payload limit plus the attributes' limit. */
    long largestMessage() {
        return (long) maxMessageBytes + Attributes.MAX_TOTAL_BYTES;
    }

    BrokerMetrics metrics() {
        return metrics;
    }

    Tracing tracing() {
        return tracing;
    }

    /** Checks one message against the name rule and limits; throws the failure that refuses it. */
    NewMessage check(String topic, ByteString payload, Map<String, String> attributes, String dedupId) {
        Names.topic(topic);
        checkPayload(payload, -1);
        Attributes.check(attributes);
        return new NewMessage(payload, attributes, dedupId(dedupId, -1));
    }

    /** The longest dedup id, in characters. */
    static final int MAX_DEDUP_ID = 256;

    /** A request's dedup id: null for none (empty), else 1-256 characters. */
    static String dedupId(String id, int index) {
        if (id.isEmpty()) {
            return null;
        }
        if (id.length() > MAX_DEDUP_ID) {
            throw new SluiceException.InvalidArgument((index >= 0 ? "message " + index + " of the batch: " : "")
                    + "dedup_id is " + id.length() + " characters long; the limit is " + MAX_DEDUP_ID);
        }
        return id;
    }

    /**
     * Checks and queues one message; {@code done} runs on {@code answerOn} once it is committed or
     * has failed. Throws, queuing nothing, the failure that refuses it.
     */
    void publish(String topic, ByteString payload, Map<String, String> attributes, String dedupId,
                 OptionalLong expectedLast, Executor answerOn, Completion<List<Appended>> done) {
        store(topic, List.of(check(topic, payload, attributes, dedupId)), expectedLast, answerOn, done);
    }

    /** A message of a batch, as received ({@code dedupId} empty for none). */
    record Item(ByteString payload, Map<String, String> attributes, String dedupId) {
    }

    /** As {@link #publish}, for a batch stored in one transaction, all or none. */
    void publishBatch(String topic, List<Item> items, OptionalLong expectedLast, Executor answerOn,
                      Completion<List<Appended>> done) {
        Names.topic(topic);
        if (items.isEmpty()) {
            throw new SluiceException.InvalidArgument("the batch has no messages");
        }
        if (items.size() > maxBatchMessages) {
            // Also keeps the answer (about 50 bytes a message) far below a default client's 4 MiB limit.
            throw new SluiceException.InvalidArgument("the batch holds " + items.size() + " messages; the limit is "
                    + maxBatchMessages + " messages a batch (--max-batch-messages): split it");
        }
        long total = 0;
        var messages = new ArrayList<NewMessage>(items.size());
        for (int i = 0; i < items.size(); i++) {
            Item item = items.get(i);
            checkPayload(item.payload(), i);
            try {
                Attributes.check(item.attributes());
            } catch (SluiceException.InvalidArgument e) {
                throw new SluiceException.InvalidArgument("message " + i + " of the batch: " + e.getMessage());
            }
            total += item.payload().size() + Attributes.size(item.attributes()) + MESSAGE_OVERHEAD;
            messages.add(new NewMessage(item.payload(), item.attributes(), dedupId(item.dedupId(), i)));
        }
        if (total > maxBatchBytes) {
            throw new SluiceException.TooLarge("the batch holds " + total + " bytes of payloads and attributes ("
                    + "counting " + MESSAGE_OVERHEAD + " bytes a message for its row); the limit is " + maxBatchBytes
                    + " bytes (--max-batch-bytes)");
        }
        store(topic, messages, expectedLast, answerOn, done);
    }

    private void store(String topic, List<NewMessage> messages, OptionalLong expectedLast, Executor answerOn,
                       Completion<List<Appended>> done) {
        var publish = new Publish(topic, messages, expectedLast, answerOn, done);
        if (!store.append(topic, messages, expectedLast, WhenFull.DECLINE, publish)) {
            waiting.execute(publish::appendWaiting);
        }
    }

    /** One publish on its way to the writer and back, each message inside its span when tracing is on. */
    private final class Publish implements Completion<List<Appended>> {
        private final long started = System.nanoTime();
        private final String topic;
        private final List<NewMessage> messages;
        private final OptionalLong expectedLast;
        private final Executor answerOn;
        private final Completion<List<Appended>> done;
        private final List<Span> spans;

        Publish(String topic, List<NewMessage> messages, OptionalLong expectedLast, Executor answerOn,
                Completion<List<Appended>> done) {
            this.topic = topic;
            this.messages = messages;
            this.expectedLast = expectedLast;
            this.answerOn = answerOn;
            this.done = done;
            if (tracing.enabled()) {
                spans = new ArrayList<>(messages.size());
                for (NewMessage m : messages) {
                    spans.add(tracing.startPublish(topic, m.attributes()));
                }
            } else {
                spans = List.of();
            }
        }

        /** The writer's queue was full: waits for room (on a thread that may block). */
        void appendWaiting() {
            try {
                store.append(topic, messages, expectedLast, WhenFull.WAIT, this);
            } catch (SluiceException e) {
                failed(e);
            }
        }

        @Override
        public void committed(List<Appended> stored) {
            long nanos = System.nanoTime() - started;
            handOn(() -> {
                metrics.published(topic, (int) stored.stream().filter(a -> !a.duplicate()).count(), nanos);
                for (int i = 0; i < spans.size(); i++) {
                    Tracing.published(spans.get(i), stored.get(i).id().toString(), stored.get(i).sequence());
                }
                done.committed(stored);
            });
        }

        @Override
        public void failed(SluiceException error) {
            handOn(() -> {
                spans.forEach(s -> Tracing.failed(s, error));
                done.failed(error);
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
    }

    private void checkPayload(ByteString payload, int index) {
        if (payload.size() > maxMessageBytes) {
            throw new SluiceException.TooLarge((index >= 0 ? "message " + index + " of the batch: " : "")
                    + "payload is " + payload.size() + " bytes; the limit is " + maxMessageBytes
                    + " bytes (--max-message-bytes)");
        }
    }
}
