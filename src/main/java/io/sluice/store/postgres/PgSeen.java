package io.sluice.store.postgres;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What this broker has been told of the database's topics and groups, so each change made by another
 * broker is told to the listener once, whether a notification or the poll finds it first, and this
 * broker's own changes (told by its writer) are not told again: each topic's last sequence and id,
 * the ids of deleted topics told, and each group's latest claim and reset epochs. The writer records
 * its own changes before its commit ({@link #recordOwn}) and takes them back if it does not commit.
 *
 * <p>Threading: the notification thread asks; the writer thread records; both at once is safe.
 */
final class PgSeen {
    /** Deleted topics' ids remembered (ids are never given again); the oldest are forgotten past this. */
    static final int MAX_DELETED = 65_536;

    private final ConcurrentHashMap<String, Long> lastSeq = new ConcurrentHashMap<>();
    /** Each topic's id, as a poll last read it or as this broker's writer committed it. */
    private final ConcurrentHashMap<String, Long> topicIds = new ConcurrentHashMap<>();
    /**
     * Topics this broker's writer created, by name: the number of the last poll begun before the
     * creation committed. That poll and earlier ones may have read before the commit; their not
     * finding the topic says nothing.
     */
    private final ConcurrentHashMap<String, Long> createdAfterPoll = new ConcurrentHashMap<>();
    private final AtomicLong polls = new AtomicLong();
    /** Topics the writer's transaction in progress created (writer thread only). */
    private final List<PgEvents.Topic> creating = new ArrayList<>();
    private final Set<Long> deletedIds = new LinkedHashSet<>();   // guarded by itself
    /** By "topic group": {latest claim epoch, latest reset epoch} seen. */
    private final ConcurrentHashMap<String, long[]> groups = new ConcurrentHashMap<>();
    /** How to take back what the writer's transaction in progress recorded (writer thread only). */
    private final Deque<Runnable> undo = new ArrayDeque<>();

    private static String key(String topic, String group) {
        return topic + " " + group;
    }

    /** True when {@code lastSequence} is past the last told of the topic (then it is the last told). */
    boolean appended(String topic, long lastSequence) {
        boolean[] moved = {false};
        lastSeq.compute(topic, (t, before) -> {
            if (before == null || lastSequence > before) {
                moved[0] = true;
                return lastSequence;
            }
            return before;
        });
        return moved[0];
    }

    /** True the first time the deletion of topic id {@code id} is seen (then it is remembered). */
    boolean deleted(String topic, long id) {
        synchronized (deletedIds) {
            if (!deletedIds.add(id)) {
                return false;
            }
            if (deletedIds.size() > MAX_DELETED) {
                var eldest = deletedIds.iterator();
                eldest.next();
                eldest.remove();
            }
        }
        topicIds.remove(topic, id);
        lastSeq.remove(topic);
        return true;
    }

    /** A poll begins reading: its number, for {@link #topics}. */
    long pollBegins() {
        return polls.incrementAndGet();
    }

    /**
     * After poll number {@code poll} read every topic ({name: {id, last sequence}}): the names whose
     * topic known before is gone (deleted, or deleted and created again), each with the id gone, not
     * told before.
     */
    List<Map.Entry<String, Long>> topics(long poll, Map<String, long[]> present) {
        var gone = new ArrayList<Map.Entry<String, Long>>();
        for (var known : topicIds.entrySet()) {
            long[] now = present.get(known.getKey());
            Long createdAfter = createdAfterPoll.get(known.getKey());
            if (now == null && createdAfter != null && poll <= createdAfter) {
                present.put(known.getKey(), new long[] {known.getValue(), 0});   // read before its creation
            } else if (now == null || now[0] != known.getValue()) {
                gone.add(Map.entry(known.getKey(), known.getValue()));
            } else {
                createdAfterPoll.remove(known.getKey(), createdAfter);
            }
        }
        var told = new ArrayList<Map.Entry<String, Long>>();
        for (var g : gone) {
            if (deleted(g.getKey(), g.getValue())) {
                told.add(g);
            }
        }
        present.forEach((name, row) -> topicIds.put(name, row[0]));
        topicIds.keySet().retainAll(present.keySet());
        lastSeq.keySet().retainAll(present.keySet());
        createdAfterPoll.keySet().retainAll(present.keySet());
        return told;
    }

    /** True when {@code epoch} is a newer claim of the group than any seen (then it is the latest). */
    boolean claimed(String topic, String group, long epoch) {
        return newer(topic, group, 0, epoch);
    }

    /** True when {@code epoch} is a newer reset of the group than any seen (then it is the latest). */
    boolean reset(String topic, String group, long epoch) {
        return newer(topic, group, 1, epoch);
    }

    private boolean newer(String topic, String group, int which, long epoch) {
        boolean[] newer = {false};
        groups.compute(key(topic, group), (k, seen) -> {
            long[] s = seen == null ? new long[2] : seen;
            if (epoch > s[which]) {
                s[which] = epoch;
                newer[0] = true;
            }
            return s;
        });
        return newer[0];
    }

    /** A group was deleted: its epochs are forgotten. */
    void groupDeleted(String topic, String group) {
        groups.remove(key(topic, group));
    }

    /** After a poll read every claimed or reset group: the others' entries are forgotten. */
    void retainGroups(Set<String> present) {
        groups.keySet().retainAll(present);
    }

    static String groupKey(String topic, String group) {
        return key(topic, group);
    }

    // ---- the writer's own changes (writer thread) ----

    /**
     * Before the writer's commit: its appends, deleted topics and resets are recorded as told, so
     * neither the poll nor a late look tells them again; the topics it created are known once it
     * committed ({@link #ownCommitted}).
     */
    void recordOwn(Map<String, Long> appended, PgEvents events) {
        undo.clear();
        creating.clear();
        creating.addAll(events.created);
        appended.forEach((topic, last) -> {
            Long before = lastSeq.put(topic, last);
            undo.push(() -> restore(lastSeq, topic, before));
        });
        for (PgEvents.Topic t : events.deleted) {
            boolean fresh;
            synchronized (deletedIds) {
                fresh = deletedIds.add(t.id());
            }
            Long before = topicIds.remove(t.name());
            undo.push(() -> {
                if (fresh) {
                    synchronized (deletedIds) {
                        deletedIds.remove(t.id());
                    }
                }
                restore(topicIds, t.name(), before);
            });
        }
        for (PgEvents.Reset r : events.resets) {
            if (r.epoch() > 0) {
                String k = key(r.topic(), r.group());
                long[] before = groups.get(k);
                long[] copy = before == null ? null : before.clone();
                reset(r.topic(), r.group(), r.epoch());
                undo.push(() -> restore(groups, k, copy));
            }
        }
    }

    /** The writer's transaction committed: what it recorded stands, and the topics it created are known. */
    void ownCommitted() {
        undo.clear();
        long lastBegun = polls.get();
        for (PgEvents.Topic t : creating) {
            createdAfterPoll.put(t.name(), lastBegun);
            topicIds.put(t.name(), t.id());
        }
        creating.clear();
    }

    /** The writer's transaction did not commit (or may not have): what it recorded is taken back. */
    void ownRolledBack() {
        creating.clear();
        while (!undo.isEmpty()) {
            undo.pop().run();
        }
    }

    private static <V> void restore(Map<String, V> map, String key, V before) {
        if (before == null) {
            map.remove(key);
        } else {
            map.put(key, before);
        }
    }
}
