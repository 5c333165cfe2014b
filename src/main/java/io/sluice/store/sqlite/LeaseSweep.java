package io.sluice.store.sqlite;

import io.sluice.store.StoreListener;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The writer's look at shared groups that need it although no stream asks (see {@link
 * GroupTable#needingSweep}): an expired lease is given back after its backoff or dead-lettered once
 * exhausted, at its expiry rather than at the group's next lease request, and entries whose message
 * retention removed are settled. Between transactions it looks at most every {@link #EVERY_NANOS};
 * the next transaction sweeps what it found, the first one every shared group an earlier run left
 * leases in. The groups' streams are told after the commit. Writer thread only.
 */
final class LeaseSweep {
    static final long EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private long lookedAt = System.nanoTime() - EVERY_NANOS;
    private boolean sweptAtStart;
    private final List<GroupTable.Group> due = new ArrayList<>();     // found by the last look, for the next tx
    private final List<GroupTable.Group> swept = new ArrayList<>();   // in this transaction

    /** Between transactions: true when the next transaction has groups to sweep. */
    boolean due(GroupTable groups, long nowMillis) {
        long nanos = System.nanoTime();
        if (due.isEmpty() && nanos - lookedAt >= EVERY_NANOS) {
            lookedAt = nanos;
            if (!sweptAtStart) {
                return true;
            }
            due.addAll(groups.needingSweep(nowMillis));
        }
        return !due.isEmpty();
    }

    /** Nanoseconds until {@link #due} looks again. */
    long nanosUntilLook(long nanos) {
        return Math.max(0, EVERY_NANOS - (nanos - lookedAt));
    }

    /** In a transaction: sweeps the groups found due (the first time, after loading those with leases). */
    void run(WriteTx tx, Connection connection, Collection<TopicRow> topics) throws SQLException {
        if (!sweptAtStart) {
            sweptAtStart = true;
            loadGroupsWithLeases(tx, connection, topics);
            due.addAll(tx.groups.needingSweep(tx.now));
        }
        for (GroupTable.Group g : due) {
            if (tx.groups.cached(g)) {
                SharedWrites.sweep(tx, g);
                swept.add(g);
            }
        }
        due.clear();
    }

    private static void loadGroupsWithLeases(WriteTx tx, Connection connection, Collection<TopicRow> topics)
            throws SQLException {
        var byId = new HashMap<Long, TopicRow>();
        topics.forEach(row -> byId.put(row.id, row));
        var names = new ArrayList<Map.Entry<TopicRow, String>>();
        try (var st = connection.createStatement();
             var rs = st.executeQuery("SELECT topic_id, name FROM consumer_groups WHERE mode = 1 AND in_flight > 0")) {
            while (rs.next()) {
                TopicRow row = byId.get(rs.getLong(1));
                if (row != null) {
                    names.add(Map.entry(row, rs.getString(2)));
                }
            }
        }
        for (var e : names) {
            tx.groups.find(e.getKey(), e.getValue(), tx.now);
        }
    }

    /** After the commit: each swept group's streams ask the store again. */
    void committed(List<Consumer<StoreListener>> events) {
        for (GroupTable.Group g : swept) {
            events.add(l -> l.sharedGroupChanged(g.topic.name, g.name, false));
        }
        swept.clear();
    }

    /** After a rollback: the groups are read again; the next look finds what is still due. */
    void rolledBack() {
        due.clear();
        swept.clear();
    }
}
