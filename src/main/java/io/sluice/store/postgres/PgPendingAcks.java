package io.sluice.store.postgres;

import io.sluice.store.jdbc.SettledRuns;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * The cumulative acks of a writer transaction, written once per group at the flush rather than once
 * per ack: the highest per group, with the claim and fence it was made under ({@link PgResetFences}).
 * Writer thread only.
 */
final class PgPendingAcks {
    private final PgCursors cursors;
    private final SettledRuns settledRuns;
    private final PgGroups groups;
    /** By topic and group: {sequence, claim, fence}. */
    private final Map<PgWriteTx.TopicState, Map<String, long[]>> pending = new HashMap<>();

    PgPendingAcks(PgCursors cursors, SettledRuns settledRuns, PgGroups groups) {
        this.cursors = cursors;
        this.settledRuns = settledRuns;
        this.groups = groups;
    }

    /** Records an ack; one of another claim or fence writes the one pending first. */
    void add(PgWriteTx.TopicState row, String group, long sequence, long claim, long fence, long now)
            throws SQLException {
        Map<String, long[]> acks = pending.computeIfAbsent(row, r -> new HashMap<>());
        long[] before = acks.get(group);
        if (before != null && before[1] == claim && before[2] == fence) {
            before[0] = Math.max(before[0], sequence);
            return;
        }
        if (before != null) {
            write(row, group, before, now);
        }
        acks.put(group, new long[] {sequence, claim, fence});
    }

    boolean isEmpty() {
        return pending.isEmpty();
    }

    /** Writes every pending ack. */
    void flush(long now) throws SQLException {
        for (var byRow : pending.entrySet()) {
            for (var byGroup : byRow.getValue().entrySet()) {
                write(byRow.getKey(), byGroup.getKey(), byGroup.getValue(), now);
            }
        }
        pending.clear();
    }

    /** Writes the group's pending ack, if any. */
    void flush(PgWriteTx.TopicState row, String group, long now) throws SQLException {
        var acks = pending.get(row);
        long[] ack = acks == null ? null : acks.remove(group);
        if (ack != null) {
            write(row, group, ack, now);
        }
    }

    void clear() {
        pending.clear();
    }

    /**
     * Writes an ack {sequence, claim, fence}: moves the cursor (unless a newer claim holds the group, or a
     * reset newer than the fence), past the messages right after the sequence that were settled without
     * an ack, and forgets the counts at or below it.
     */
    private void write(PgWriteTx.TopicState row, String group, long[] ack, long now) throws SQLException {
        long seq = ack[0];
        if (!cursors.ackTo(row.id, group, seq, ack[1], ack[2], now)) {
            return;
        }
        // The group's row is locked now: a Term committed meanwhile through another broker is seen.
        long cursor = settledRuns.cursorAfter(row.id, group, seq);
        if (cursor > seq) {
            cursors.ackTo(row.id, group, cursor, ack[1], ack[2], now);
        }
        groups.prune(row.id, group, cursor);
    }
}
