package io.sluice.client;

import java.time.Duration;

/**
 * How a {@link SluiceClient} publishes single messages ({@code publish} and {@code publishAsync}).
 * Start from {@link #defaults()} and change what differs:
 * <pre>{@code
 * SluiceClient.connect("127.0.0.1:50051", PublishOptions.defaults().withWindow(1024).withRetryFor(Duration.ofSeconds(10)))
 * }</pre>
 *
 * @param unary       publish each message as its own unary {@code Publish} call (the client's behaviour before
 *                    pipelining) instead of on the client's shared {@code PublishStream}
 * @param window      most publishes sent or queued and not yet answered, over the whole client; a caller that
 *                    finds it full waits for room (backpressure) up to its call timeout (1-1,000,000)
 * @param windowBytes most payload bytes in that window (one larger message is still taken when the window is
 *                    otherwise empty)
 * @param retryFor    how long a publish that a broken stream left unanswered is sent again on a new stream,
 *                    counted from its first send; {@link Duration#ZERO} (the default) fails it at once with
 *                    {@link SluiceClientException.Unavailable}, as a unary publish fails. Either way it may
 *                    have been stored: a retried publish can be stored twice (at-least-once)
 */
public record PublishOptions(boolean unary, int window, long windowBytes, Duration retryFor) {
    public static final int DEFAULT_WINDOW = 4096;
    public static final long DEFAULT_WINDOW_BYTES = 16L << 20;
    public static final int MAX_WINDOW = 1_000_000;

    public PublishOptions {
        if (window < 1 || window > MAX_WINDOW) {
            throw new IllegalArgumentException("the publish window must be 1-" + MAX_WINDOW + ", not " + window);
        }
        if (windowBytes < 1) {
            throw new IllegalArgumentException("the publish window's bytes must be positive, not " + windowBytes);
        }
        if (retryFor == null || retryFor.isNegative()) {
            throw new IllegalArgumentException("retryFor must not be negative: " + retryFor);
        }
    }

    /** Pipelined on one PublishStream, a window of 4,096 messages and 16 MiB, no retry after a broken stream. */
    public static PublishOptions defaults() {
        return new PublishOptions(false, DEFAULT_WINDOW, DEFAULT_WINDOW_BYTES, Duration.ZERO);
    }

    /** Each publish as its own unary call, as before the shared stream. */
    public PublishOptions withUnary() {
        return new PublishOptions(true, window, windowBytes, retryFor);
    }

    public PublishOptions withWindow(int messages) {
        return new PublishOptions(unary, messages, windowBytes, retryFor);
    }

    public PublishOptions withWindowBytes(long bytes) {
        return new PublishOptions(unary, window, bytes, retryFor);
    }

    /** Sends publishes a broken stream left unanswered again, for up to {@code limit} after their first send. */
    public PublishOptions withRetryFor(Duration limit) {
        return new PublishOptions(unary, window, windowBytes, limit);
    }
}
