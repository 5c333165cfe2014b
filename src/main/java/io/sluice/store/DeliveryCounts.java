package io.sluice.store;

/**
 * The delivery counts of messages about to be sent to an exclusive group, in the order asked; a
 * count of 0 means the message is not to be sent (it was dead-lettered by this request, or settled
 * by a Term before).
 */
public record DeliveryCounts(int[] counts) {
}
