package io.sluice.store;

/** A message of a shared group leased to one holder: its sequence and its delivery count, this one included. */
public record Lease(long sequence, int deliveryCount) {
}
