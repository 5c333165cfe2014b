package io.sluice.server;

import com.google.protobuf.ByteString;
import io.sluice.domain.Attributes;
import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import io.sluice.store.NewMessage;
import io.sluice.store.Store;
import io.sluice.telemetry.BrokerMetrics;
import io.sluice.telemetry.Tracing;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * The rules and limits of a publish, and what every publish path shares: the store, metrics,
 * tracing, and the threads that wait for room in the store's queue. Each check throws the failure
 * that refuses the message or batch; a unary call's journey after its check is a {@link
 * UnaryPublish}, a PublishStream's is {@link PublishStreamHandler}'s.
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

    Store store() {
        return store;
    }

    /** Runs what must wait for room in the store's queue (threads that may block). */
    Executor waiting() {
        return waiting;
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

    /** A request's dedup id: null for none (empty), else 1-256 characters (code points, as Unicode counts them). */
    static String dedupId(String id, int index) {
        if (id.isEmpty()) {
            return null;
        }
        if (id.length() > MAX_DEDUP_ID && id.codePointCount(0, id.length()) > MAX_DEDUP_ID) {
            throw new SluiceException.InvalidArgument(inBatch(index) + "dedup_id is "
                    + id.codePointCount(0, id.length()) + " characters long; the limit is " + MAX_DEDUP_ID);
        }
        return id;
    }

    /** Where a refused message is in a batch ({@code index} from 0); nothing for -1 (not a batch). */
    private static String inBatch(int index) {
        return index >= 0 ? "message " + index + " of the batch (counting from 0): " : "";
    }

    /** A message of a batch, as received ({@code dedupId} empty for none). */
    record Item(ByteString payload, Map<String, String> attributes, String dedupId) {
    }

    /** Checks a batch (stored later in one transaction, all or none); throws the failure that refuses it. */
    List<NewMessage> checkBatch(String topic, List<Item> items) {
        Names.topic(topic);
        if (items.isEmpty()) {
            throw new SluiceException.InvalidArgument("the batch has no messages");
        }
        SluiceException tooMany = overCount(items.size());
        if (tooMany != null) {
            throw tooMany;
        }
        long total = 0;
        var messages = new ArrayList<NewMessage>(items.size());
        for (int i = 0; i < items.size(); i++) {
            Item item = items.get(i);
            checkPayload(item.payload(), i);
            try {
                Attributes.check(item.attributes());
            } catch (SluiceException.InvalidArgument e) {
                throw new SluiceException.InvalidArgument(inBatch(i) + e.getMessage());
            }
            total += item.payload().size() + Attributes.size(item.attributes()) + MESSAGE_OVERHEAD;
            messages.add(new NewMessage(item.payload(), item.attributes(), dedupId(item.dedupId(), i)));
        }
        if (total > maxBatchBytes) {
            throw new SluiceException.TooLarge("the batch holds " + total + " bytes of payloads and attributes ("
                    + "counting " + MESSAGE_OVERHEAD + " bytes a message for its row); the limit is " + maxBatchBytes
                    + " bytes (--max-batch-bytes)");
        }
        return messages;
    }

    /** The refusal of a batch of {@code messages}, when that is more than a batch may hold; else null. */
    SluiceException overCount(long messages) {
        if (messages <= maxBatchMessages) {
            return null;
        }
        // Also keeps the answer (about 50 bytes a message) far below a default client's 4 MiB limit.
        return new SluiceException.InvalidArgument("the batch holds " + messages + " messages; the limit is "
                + maxBatchMessages + " messages a batch (--max-batch-messages): split it");
    }

    private void checkPayload(ByteString payload, int index) {
        if (payload.size() > maxMessageBytes) {
            throw new SluiceException.TooLarge(inBatch(index) + "payload is " + payload.size() + " bytes; the limit is "
                    + maxMessageBytes + " bytes (--max-message-bytes)");
        }
    }
}
