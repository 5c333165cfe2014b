package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Lease requests of shared groups ({@link io.sluice.store.Store#leaseWhenRoom}) that found their group
 * at its max in flight with nothing due, kept by the writer instead of answered empty. At the end of
 * every transaction, and before any newer lease request of the same group, the waiting ones whose
 * group has room again (or a message that may be due) are run again, oldest first, and those that
 * got leases are answered after that transaction's commit: the commit that settles messages carries
 * the leases given in their place, without a round trip through the stream that asked. A request
 * is also looked at again when a lease expiry or backoff of its group is due, without any other
 * write; one that still finds nothing waits on, for at most {@link #MAX_WAIT_NANOS} in all, and is
 * then answered with what it finds. A holder's release-all answers its request with nothing.
 *
 * <p>Holds at most {@link #MAX_WAITING} requests (a stream has at most one in flight); past that a
 * request is answered at once. After a failed transaction the list is as it was before it (the
 * requests it answered wait again). Writer thread only.
 */
final class WaitingLeases {
    static final long MAX_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final int MAX_WAITING = 4096;

    private List<SharedWrites.LeaseOp> waiting = new ArrayList<>();
    private List<SharedWrites.LeaseOp> before = List.of();        // as it was when the transaction began
    private final List<SharedWrites.LeaseOp> answered = new ArrayList<>();   // run in this transaction
    private final List<SharedWrites.LeaseOp> voided = new ArrayList<>();     // of groups reset in this transaction
    private boolean serving;

    /** A transaction begins: remembers the list, so that a rollback can restore it. */
    void begin() {
        before = waiting.isEmpty() ? List.of() : List.copyOf(waiting);
    }

    /**
     * Keeps {@code op}, which found its group full, to be answered later; false (answer it now) when
     * it may not wait: its wait is over, it was withdrawn, or the list is full.
     */
    boolean park(WriteTx tx, SharedWrites.LeaseOp op, long nextDueMillis) {
        long now = System.nanoTime();
        if (op.waited) {
            if (op.withdrawn || now - op.waitUntilNanos >= 0) {
                return false;
            }
        } else {
            if (waiting.size() >= MAX_WAITING) {
                return false;
            }
            op.waitUntilNanos = now + MAX_WAIT_NANOS;
            op.waited = true;
        }
        // Looked at again when the next lease expiry or backoff is due (a millisecond late, so that
        // the clock has reached it), at the latest at the end of its wait.
        long wait = op.waitUntilNanos - now;
        if (nextDueMillis != Long.MAX_VALUE) {
            wait = Math.min(wait, TimeUnit.MILLISECONDS.toNanos(Math.max(0, nextDueMillis - tx.now) + 1));
        }
        op.deadlineNanos = now + wait;
        op.parked = true;
        waiting.add(op);
        return true;
    }

    /**
     * Runs again, oldest first, the waiting requests of {@code topic}'s {@code group} (every group's
     * when {@code group} is null) that may get something now; the ones that got an answer leave the
     * list and are answered after the commit.
     */
    void serve(WriteTx tx, String topic, String group) throws SQLException {
        if (waiting.isEmpty() || serving) {
            return;
        }
        serving = true;
        try {
            long now = System.nanoTime();
            var again = new ArrayList<SharedWrites.LeaseOp>();
            var kept = new ArrayList<SharedWrites.LeaseOp>(waiting.size());
            for (SharedWrites.LeaseOp op : waiting) {
                boolean mine = group == null || (op.group.equals(group) && op.topic.equals(topic));
                if (mine && (op.withdrawn || now - op.deadlineNanos >= 0 || op.mayGetSome(tx))) {
                    again.add(op);
                } else {
                    kept.add(op);
                }
            }
            if (again.isEmpty()) {
                return;
            }
            waiting = kept;
            for (SharedWrites.LeaseOp op : again) {
                if (!op.withdrawn && now - op.deadlineNanos < 0 && !op.mayGetSome(tx)) {
                    waiting.add(op);   // the ones before it took the room
                    continue;
                }
                op.parked = false;
                op.run(tx);   // parks itself again when it still finds nothing
                if (!op.parked) {
                    answered.add(op);
                }
            }
        } finally {
            serving = false;
        }
    }

    /**
     * The group's cursor was reset, voiding its leases: its waiting requests get nothing (they would
     * take the messages the reset made due, for streams that end CURSOR_RESET after the commit, and
     * count a delivery of each that never happened); they fail after the commit.
     */
    void voided(String topic, String group) {
        var kept = new ArrayList<SharedWrites.LeaseOp>(waiting.size());
        for (SharedWrites.LeaseOp op : waiting) {
            if (op.group.equals(group) && op.topic.equals(topic)) {
                op.parked = false;
                voided.add(op);
            } else {
                kept.add(op);
            }
        }
        waiting = kept;
    }

    /** The holder's stream ended: its waiting request on the group is answered with nothing. */
    void withdraw(WriteTx tx, String topic, String group, String holder) throws SQLException {
        for (SharedWrites.LeaseOp op : waiting) {
            if (op.holder.equals(holder) && op.group.equals(group) && op.topic.equals(topic)) {
                op.withdrawn = true;
            }
        }
        serve(tx, topic, group);
    }

    /** A message of the group comes due at {@code dueMillis} (a release): its waiting requests look then. */
    void dueAt(WriteTx tx, String topic, String group, long dueMillis) {
        long at = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(0, dueMillis - tx.now) + 1);
        for (SharedWrites.LeaseOp op : waiting) {
            if (op.group.equals(group) && op.topic.equals(topic) && at - op.deadlineNanos < 0) {
                op.deadlineNanos = at;
            }
        }
    }

    /** True when a waiting request's deadline has come (the writer runs a transaction for it). */
    boolean due(long nowNanos) {
        return nanosUntilDue(nowNanos) <= 0;
    }

    /** Nanoseconds until the first waiting request's deadline; {@code Long.MAX_VALUE} when none waits. */
    long nanosUntilDue(long nowNanos) {
        long next = Long.MAX_VALUE;
        for (SharedWrites.LeaseOp op : waiting) {
            next = Math.min(next, op.deadlineNanos - nowNanos);
        }
        return next;
    }

    /** After the commit: answers the requests this transaction answered. */
    void committed() {
        for (SharedWrites.LeaseOp op : answered) {
            op.complete();
        }
        answered.clear();
        for (SharedWrites.LeaseOp op : voided) {
            op.fail(new SluiceException.LeasesVoided("consumer group " + op.group + " of topic " + op.topic
                    + ": its cursor was reset, voiding its leases"));
        }
        voided.clear();
        before = List.of();
    }

    /**
     * After a rollback: the list is as it was when the transaction began; the requests that began
     * to wait in it are left to the transaction's own failure handling.
     */
    void rolledBack() {
        answered.clear();
        voided.clear();
        waiting.forEach(op -> op.parked = false);
        waiting = new ArrayList<>(before);
        waiting.forEach(op -> op.parked = true);
        before = List.of();
    }

    /** The writer stops or refuses writes: every waiting request fails with {@code e}. */
    void failAll(SluiceException e) {
        var all = new ArrayList<>(waiting);
        all.addAll(answered);
        all.addAll(voided);
        waiting.clear();
        answered.clear();
        voided.clear();
        all.forEach(op -> {
            op.parked = false;
            op.fail(e);
        });
    }

    /** Takes over what {@code other} (a transaction replaced after a rollback) kept. */
    void takeOver(WaitingLeases other) {
        waiting = new ArrayList<>(other.waiting);
        other.waiting.clear();
    }
}
