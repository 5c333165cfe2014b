package io.sluice.delivery;

import io.sluice.domain.SluiceException;

/**
 * Why a subscription stream ended, free of any transport: the server maps each kind to its status
 * (and, for deliberate ends, the StreamError sent before it) in one place.
 *
 * @param kind what ended the stream
 * @param error the failure, for {@link Kind#FAILED} only (its type decides the status); else null
 * @param detail a description for {@link Kind#INTERNAL}; else null
 */
public record End(Kind kind, SluiceException error, String detail) {

    /** The ways a stream ends. */
    public enum Kind {
        /** Another stream of the consumer group took over (StreamError TAKEN_OVER, then ABORTED). */
        TAKEN_OVER,
        /** The topic was deleted (StreamError TOPIC_DELETED, then NOT_FOUND). */
        TOPIC_DELETED,
        /** The consumer group was deleted (StreamError GROUP_DELETED, then NOT_FOUND). */
        GROUP_DELETED,
        /** ResetCursor voided a shared group's leases (StreamError CURSOR_RESET, then ABORTED). */
        CURSOR_RESET,
        /** The broker is stopping (StreamError SHUTTING_DOWN, then UNAVAILABLE). */
        SHUTTING_DOWN,
        /** The client cancelled or its connection broke: nothing is left to send. */
        CANCELLED,
        /** A request or the storage failed: only the status of {@link #error()}. */
        FAILED,
        /** Something the broker did not expect: INTERNAL with {@link #detail()}. */
        INTERNAL
    }

    public static final End TAKEN_OVER = new End(Kind.TAKEN_OVER, null, null);
    public static final End TOPIC_DELETED = new End(Kind.TOPIC_DELETED, null, null);
    public static final End GROUP_DELETED = new End(Kind.GROUP_DELETED, null, null);
    public static final End CURSOR_RESET = new End(Kind.CURSOR_RESET, null, null);
    public static final End SHUTTING_DOWN = new End(Kind.SHUTTING_DOWN, null, null);
    public static final End CANCELLED = new End(Kind.CANCELLED, null, null);

    /** A failure: the stream ends with the status of {@code error}. */
    public static End failed(SluiceException error) {
        return new End(Kind.FAILED, error, null);
    }

    /** A request the protocol does not allow: INVALID_ARGUMENT with {@code message}. */
    public static End invalid(String message) {
        return failed(new SluiceException.InvalidArgument(message));
    }

    /** An unexpected failure of the broker's own. */
    public static End internal(String detail) {
        return new End(Kind.INTERNAL, null, detail);
    }

    boolean reachesClient() {
        return kind != Kind.CANCELLED;
    }
}
