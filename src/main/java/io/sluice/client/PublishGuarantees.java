package io.sluice.client;

import java.util.OptionalLong;

/**
 * What a publish asks of the broker besides storing (SPEC §7): a {@code dedupId} (1-256 characters;
 * null for none) makes it idempotent within the topic's dedup window, so a producer can retry it
 * after a timeout or a crash without storing it twice; an expected last sequence stores it only if
 * the topic's last sequence is still that (else {@link SluiceClientException} with status
 * FAILED_PRECONDITION). Used by {@link SluiceClient#publish(String, byte[], java.util.Map, PublishGuarantees)}
 * and {@link SluiceClient#publishAsync(String, byte[], java.util.Map, PublishGuarantees)}, pipelined or unary.
 */
public record PublishGuarantees(String dedupId, OptionalLong expectedLastSequence) {

    public PublishGuarantees {
        if (dedupId != null && (dedupId.isEmpty() || dedupId.length() > 256)) {
            throw new IllegalArgumentException("a dedup id is 1-256 characters, not " + dedupId.length());
        }
        if (expectedLastSequence == null) {
            throw new IllegalArgumentException("expectedLastSequence must not be null: use OptionalLong.empty()");
        }
    }

    /** Stored at most once within the topic's dedup window, whatever the retries. */
    public static PublishGuarantees dedupId(String id) {
        return new PublishGuarantees(id, OptionalLong.empty());
    }

    /** Stored only if the topic's last sequence is {@code sequence} (0 for a topic that never held a message). */
    public static PublishGuarantees expectLastSequence(long sequence) {
        return new PublishGuarantees(null, OptionalLong.of(sequence));
    }

    /** These guarantees with an expected last sequence as well. */
    public PublishGuarantees andExpectLastSequence(long sequence) {
        return new PublishGuarantees(dedupId, OptionalLong.of(sequence));
    }
}
