package io.sluice.store;

import java.util.List;

/**
 * What one lease request got, in sequence order, and, when it got fewer than it asked for, the
 * wall-clock time (Unix ms) at which a message of the group may next become available by time (a
 * lease expiring, a backoff ending); {@code Long.MAX_VALUE} when only a new message or a settle can
 * make one available. {@code full}: the group holds its maximum of messages in flight.
 */
public record LeaseBatch(List<Lease> leases, long nextDueMillis, boolean full) {
}
