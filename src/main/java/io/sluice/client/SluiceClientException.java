package io.sluice.client;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;

/**
 * A failure reported by the broker or the transport, keeping its gRPC {@link Status}. The message
 * reads {@code CODE: description}, e.g. {@code INVALID_ARGUMENT: topic name "a b" has the character ' '
 * ...}. Subclasses name the failures a caller may want to handle; any other status arrives as this
 * class itself. Unchecked, like the gRPC exceptions it wraps.
 */
public sealed class SluiceClientException extends RuntimeException
        permits SluiceClientException.InvalidArgument, SluiceClientException.NotFound,
        SluiceClientException.Unavailable, SluiceClientException.TakenOver,
        SluiceClientException.ResourceExhausted {

    private final transient Status status;

    SluiceClientException(Status status, String message) {
        super(message, status.getCause());
        this.status = status;
    }

    /** The status the broker (or the transport) answered. */
    public Status status() {
        return status;
    }

    /** Shorthand for {@code status().getCode()}. */
    public Status.Code code() {
        return status.getCode();
    }

    /** A bad topic or group name, bad attributes, or a sequence beyond the topic's last one. */
    public static final class InvalidArgument extends SluiceClientException {
        InvalidArgument(Status status, String message) {
            super(status, message);
        }
    }

    /** The topic (or group) does not exist. */
    public static sealed class NotFound extends SluiceClientException permits TopicDeleted {
        NotFound(Status status, String message) {
            super(status, message);
        }
    }

    /** A subscription's topic was deleted while it was open ({@code StreamError TOPIC_DELETED}). */
    public static final class TopicDeleted extends NotFound {
        TopicDeleted(Status status, String message) {
            super(status, message);
        }
    }

    /**
     * The broker cannot be reached, is shutting down, or its disk is full. Unary calls are not
     * retried (a publish may or may not have been stored); subscriptions reconnect by themselves
     * and report this only once they give up.
     */
    public static final class Unavailable extends SluiceClientException {
        Unavailable(Status status, String message) {
            super(status, message);
        }
    }

    /** Another stream of the same consumer group took over this subscription ({@code StreamError TAKEN_OVER}). */
    public static final class TakenOver extends SluiceClientException {
        TakenOver(Status status, String message) {
            super(status, message);
        }
    }

    /** A payload or batch over the broker's limit. */
    public static final class ResourceExhausted extends SluiceClientException {
        ResourceExhausted(Status status, String message) {
            super(status, message);
        }
    }

    /** The exception for a failed call, {@code target} naming the broker when the transport failed. */
    static SluiceClientException of(Throwable t, String target) {
        Status status = Status.fromThrowable(t);
        return of(status, null, target);
    }

    /**
     * The exception for a status, refined by the {@code StreamError} code that preceded it on a
     * Subscribe stream (null when there was none).
     */
    static SluiceClientException of(Status status, String streamError, String target) {
        String message = describe(status, target);
        if ("TAKEN_OVER".equals(streamError)) {
            return new TakenOver(status, message);
        }
        if ("TOPIC_DELETED".equals(streamError)) {
            return new TopicDeleted(status, message);
        }
        return switch (status.getCode()) {
            case INVALID_ARGUMENT -> new InvalidArgument(status, message);
            case NOT_FOUND -> new NotFound(status, message);
            case UNAVAILABLE -> new Unavailable(status, message);
            case ABORTED -> new TakenOver(status, message);
            case RESOURCE_EXHAUSTED -> new ResourceExhausted(status, message);
            default -> new SluiceClientException(status, message);
        };
    }

    /** {@code CODE: detail}; see {@link #detail}. */
    static String describe(Status status, String target) {
        return status.getCode().name() + ": " + detail(status, target);
    }

    /**
     * The status's description with the transport's root cause; when the broker was not reached
     * (UNAVAILABLE with a transport cause) it says so, naming {@code target}.
     */
    static String detail(Status status, String target) {
        String description = status.getDescription();
        String root = rootCause(status.getCause());
        String detail;
        if (description == null || description.isBlank() || description.equals("io exception")) {
            detail = root != null ? root : (description == null ? "no description" : description);
        } else {
            detail = root != null ? description + " (" + root + ")" : description;
        }
        if (status.getCode() == Status.Code.UNAVAILABLE && root != null && target != null) {
            detail = "cannot reach the broker at " + target + ": " + detail;
        }
        return detail.replace('\n', ' ');
    }

    /** The innermost cause's message, without transport prefixes such as {@code finishConnect(..) failed...: }. */
    private static String rootCause(Throwable cause) {
        if (cause == null || cause instanceof StatusRuntimeException || cause instanceof StatusException) {
            return null;
        }
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String why = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
        int prefix = why.lastIndexOf("): ");
        return prefix >= 0 ? why.substring(prefix + 3) : why;
    }
}
