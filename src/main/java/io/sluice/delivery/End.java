package io.sluice.delivery;

import io.grpc.Status;

/**
 * Why a subscription stream ended. Deliberate ends carry a {@code StreamError} code sent before
 * their status; a client cancel sends nothing; a failure sends only its status.
 */
public record End(String code, Status status) {
    public static final End TAKEN_OVER = new End("TAKEN_OVER",
            Status.ABORTED.withDescription("another stream of this consumer group took over"));
    public static final End TOPIC_DELETED = new End("TOPIC_DELETED",
            Status.NOT_FOUND.withDescription("the topic was deleted"));
    public static final End SHUTTING_DOWN = new End("SHUTTING_DOWN",
            Status.UNAVAILABLE.withDescription("the broker is shutting down"));
    /** The client cancelled or its connection broke: nothing is left to send. */
    public static final End CANCELLED = new End(null, Status.CANCELLED);

    /** A failure: no StreamError, only the status. */
    public static End failed(Status status) {
        return new End(null, status);
    }

    boolean sendsStreamError() {
        return code != null;
    }

    boolean reachesClient() {
        return this != CANCELLED;
    }
}
