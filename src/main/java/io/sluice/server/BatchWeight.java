package io.sluice.server;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.grpc.Status;
import io.sluice.domain.Attributes;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import java.io.IOException;

/**
 * What a BatchPublish request would hold of the publish budget once parsed, weighed from its encoded
 * bytes before it is parsed (as {@link Admission#heldBytes} weighs the parsed request). Parsing is
 * where a batch of many small attributes takes its memory: 16 MiB of one-byte attributes are about
 * 2.7 million of them, over 200 MiB of heap parsed. A batch that would hold more than the room the
 * call was admitted with is refused unparsed.
 */
final class BatchWeight {
    private static final int MESSAGES = lengthDelimited(BatchPublishRequest.MESSAGES_FIELD_NUMBER);
    private static final int ATTRIBUTES = lengthDelimited(BatchMessage.ATTRIBUTES_FIELD_NUMBER);

    private final long messages;
    private final long attributes;
    private final long bytes;

    private BatchWeight(long messages, long attributes, long bytes) {
        this.messages = messages;
        this.attributes = attributes;
        this.bytes = bytes;
    }

    /** The heap a field the parser does not know takes once parsed (kept, a boxed value or a ByteString each). */
    static final int HEAP_PER_UNKNOWN_FIELD = 48;

    private static boolean known(int tag, int field, int other) {
        int number = tag >>> 3;
        return number == field || number == other;
    }

    private static int lengthDelimited(int field) {
        return field << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    /** The weight of an encoded batch, or null when the bytes are not a valid batch (the parser says why). */
    static BatchWeight of(byte[] encoded) {
        var in = CodedInputStream.newInstance(encoded);
        long messages = 0;
        long attributes = 0;
        long others = 0;   // fields of no known number: kept by the parser, one object each
        try {
            for (int tag; (tag = in.readTag()) != 0; ) {
                if (tag != MESSAGES) {
                    others += known(tag, BatchPublishRequest.TOPIC_FIELD_NUMBER,
                            BatchPublishRequest.EXPECTED_LAST_SEQUENCE_FIELD_NUMBER) ? 0 : 1;
                    in.skipField(tag);
                    continue;
                }
                int limit = in.pushLimit(in.readRawVarint32());
                messages++;
                for (int field; (field = in.readTag()) != 0; ) {
                    if (field == ATTRIBUTES) {
                        attributes++;
                    } else if (!known(field, BatchMessage.PAYLOAD_FIELD_NUMBER, BatchMessage.DEDUP_ID_FIELD_NUMBER)) {
                        others++;
                    }
                    in.skipField(field);
                }
                in.popLimit(limit);
            }
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
        long held = encoded.length + Admission.OVERHEAD_PER_MESSAGE * Math.max(1, messages)
                + Attributes.HEAP_PER_ATTRIBUTE * attributes + HEAP_PER_UNKNOWN_FIELD * others;
        return new BatchWeight(messages, attributes, held);
    }

    /**
     * The refusal of the batch, or null: INVALID_ARGUMENT when it has more messages than a batch may
     * hold (as {@link Publisher#checkBatch} says once parsed), RESOURCE_EXHAUSTED when it would hold more
     * than {@code room}.
     */
    Status refusal(Publisher publisher, long room) {
        var tooMany = publisher.overCount(messages);
        if (tooMany != null) {
            return Status.INVALID_ARGUMENT.withDescription(tooMany.getMessage());
        }
        if (bytes <= room) {
            return null;
        }
        return Status.RESOURCE_EXHAUSTED.withDescription("a BatchPublish of " + messages + " messages with "
                + attributes + " attributes in all would hold about " + mib(bytes) + " MiB of memory once parsed ("
                + Admission.OVERHEAD_PER_MESSAGE + " bytes a message, " + Attributes.HEAP_PER_ATTRIBUTE
                + " an attribute and " + HEAP_PER_UNKNOWN_FIELD + " a field of no known number beyond its encoded "
                + "size), over the " + mib(room) + " MiB one batch may hold "
                + "(--max-batch-bytes plus 2 MiB); send fewer messages or attributes in each batch");
    }

    private static String mib(long n) {
        return String.format(java.util.Locale.ROOT, "%.1f", n / (1024.0 * 1024.0));
    }
}
