package io.sluice.server;

import com.google.protobuf.ByteString;
import io.sluice.store.Appended;
import io.sluice.store.Attributes;
import io.sluice.store.Names;
import io.sluice.store.NewMessage;
import io.sluice.store.Pending;
import io.sluice.store.SluiceException;
import io.sluice.store.Store;
import io.opentelemetry.api.trace.Span;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Checks a publish against the rules and limits and stores it, blocking the calling (virtual)
 * thread until the writer has committed it.
 */
final class Publisher {
    private final Store store;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private final int maxMessageBytes;
    private final int maxBatchBytes;

    Publisher(Store store, BrokerMetrics metrics, Tracing tracing, int maxMessageBytes, int maxBatchBytes) {
        this.store = store;
        this.metrics = metrics;
        this.tracing = tracing;
        this.maxMessageBytes = maxMessageBytes;
        this.maxBatchBytes = maxBatchBytes;
    }

    BrokerMetrics metrics() {
        return metrics;
    }

    Tracing tracing() {
        return tracing;
    }

    /** Checks one message against the name rule and limits; throws the failure that refuses it. */
    NewMessage check(String topic, ByteString payload, Map<String, String> attributes) {
        Names.topic(topic);
        checkPayload(payload, -1);
        Attributes.check(attributes);
        return new NewMessage(payload, attributes);
    }

    /** Stores one message; returns once it is committed. */
    Appended publish(String topic, ByteString payload, Map<String, String> attributes) throws InterruptedException {
        long started = System.nanoTime();
        List<Appended> stored = store(topic, List.of(check(topic, payload, attributes)));
        metrics.published(topic, 1, System.nanoTime() - started);
        return stored.getFirst();
    }

    /** A message of a batch, as received. */
    record Item(ByteString payload, Map<String, String> attributes) {
    }

    /** Stores all messages in one transaction, all or none; returns once committed. */
    List<Appended> publishBatch(String topic, List<Item> items) throws InterruptedException {
        long started = System.nanoTime();
        Names.topic(topic);
        if (items.isEmpty()) {
            throw new SluiceException.InvalidArgument("the batch has no messages");
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
            total += item.payload().size() + Attributes.size(item.attributes());
            messages.add(new NewMessage(item.payload(), item.attributes()));
        }
        if (total > maxBatchBytes) {
            throw new SluiceException.TooLarge("the batch holds " + total + " bytes of payloads and attributes; "
                    + "the limit is " + maxBatchBytes + " bytes (--max-batch-bytes)");
        }
        List<Appended> stored = store(topic, messages);
        metrics.published(topic, stored.size(), System.nanoTime() - started);
        return stored;
    }

    /** Appends and waits for the commit, each message inside its publish span when tracing is on. */
    private List<Appended> store(String topic, List<NewMessage> messages) throws InterruptedException {
        var pending = new Pending<List<Appended>>();
        if (!tracing.enabled()) {
            store.append(topic, messages, pending);
            return pending.await();
        }
        var spans = new ArrayList<Span>(messages.size());
        for (NewMessage m : messages) {
            spans.add(tracing.startPublish(topic, m.attributes()));
        }
        try {
            store.append(topic, messages, pending);
            List<Appended> stored = pending.await();
            for (int i = 0; i < stored.size(); i++) {
                Tracing.published(spans.get(i), stored.get(i).id().toString(), stored.get(i).sequence());
            }
            return stored;
        } catch (RuntimeException | InterruptedException e) {
            spans.forEach(s -> Tracing.failed(s, e));
            throw e;
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
