package io.sluice.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.Map;

/**
 * Spans following the OpenTelemetry messaging conventions: one per published message and one per
 * delivery. A W3C {@code traceparent} (and {@code tracestate}) in the message attributes is the
 * parent, so the broker's spans join the producer's trace; the attributes themselves are stored
 * and delivered untouched. When tracing is off every call returns the invalid span at once.
 */
public final class Tracing {
    static final AttributeKey<String> SYSTEM = AttributeKey.stringKey("messaging.system");
    static final AttributeKey<String> DESTINATION = AttributeKey.stringKey("messaging.destination.name");
    static final AttributeKey<String> GROUP = AttributeKey.stringKey("messaging.consumer.group.name");
    static final AttributeKey<String> MESSAGE_ID = AttributeKey.stringKey("messaging.message.id");
    static final AttributeKey<String> OPERATION = AttributeKey.stringKey("messaging.operation.type");
    static final AttributeKey<Long> DELIVERY_COUNT = AttributeKey.longKey("messaging.sluice.delivery_count");
    static final AttributeKey<Long> SEQUENCE = AttributeKey.longKey("messaging.sluice.sequence");

    private static final TextMapGetter<Map<String, String>> ATTRIBUTES = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
            return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private final Tracer tracer;   // null when tracing is off

    Tracing(Tracer tracer) {
        this.tracer = tracer;
    }

    public boolean enabled() {
        return tracer != null;
    }

    /** Starts the span of one published message; its parent is the producer's traceparent, if any. */
    public Span startPublish(String topic, Map<String, String> attributes) {
        if (tracer == null) {
            return Span.getInvalid();
        }
        return tracer.spanBuilder("publish " + topic)
                .setSpanKind(SpanKind.PRODUCER)
                .setParent(parentOf(attributes))
                .setAttribute(SYSTEM, "sluice")
                .setAttribute(DESTINATION, topic)
                .setAttribute(OPERATION, "publish")
                .startSpan();
    }

    /** Completes a publish span once the message is stored. */
    public static void published(Span span, String messageId, long sequence) {
        if (span.isRecording()) {
            span.setAttribute(MESSAGE_ID, messageId);
            span.setAttribute(SEQUENCE, sequence);
        }
        span.end();
    }

    /** Ends a publish span whose message was not stored. */
    public static void failed(Span span, Throwable error) {
        if (span.isRecording()) {
            span.setStatus(StatusCode.ERROR, error.getMessage());
        }
        span.end();
    }

    /** Starts the span of one delivery to a consumer (group null for a browsing stream). */
    public Span startDelivery(String topic, String group, String messageId, long sequence, int deliveryCount,
                              Map<String, String> attributes) {
        if (tracer == null) {
            return Span.getInvalid();
        }
        var builder = tracer.spanBuilder("deliver " + topic)
                .setSpanKind(SpanKind.CONSUMER)
                .setParent(parentOf(attributes))
                .setAttribute(SYSTEM, "sluice")
                .setAttribute(DESTINATION, topic)
                .setAttribute(OPERATION, "deliver")
                .setAttribute(MESSAGE_ID, messageId)
                .setAttribute(SEQUENCE, sequence)
                .setAttribute(DELIVERY_COUNT, (long) deliveryCount);
        if (group != null) {
            builder.setAttribute(GROUP, group);
        }
        return builder.startSpan();
    }

    private static Context parentOf(Map<String, String> attributes) {
        if (attributes.isEmpty() || !attributes.containsKey("traceparent")) {
            return Context.root();
        }
        return W3CTraceContextPropagator.getInstance().extract(Context.root(), attributes, ATTRIBUTES);
    }
}
