package io.sluice.store;

/**
 * A consumer group's persisted position: {@code cursor} is the last acknowledged sequence,
 * {@code delivered} the highest sequence ever delivered to it (messages between the two were
 * delivered and not acknowledged, so their next delivery is a redelivery).
 */
public record GroupPosition(long cursor, long delivered) {
}
