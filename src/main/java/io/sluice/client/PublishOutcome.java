package io.sluice.client;

/**
 * The answer to a publish with {@link PublishGuarantees}: the stored message, and whether it was a
 * duplicate (its dedup id was stored before: {@code published} is the original message, nothing was
 * stored this time).
 */
public record PublishOutcome(Published published, boolean duplicate) {
}
