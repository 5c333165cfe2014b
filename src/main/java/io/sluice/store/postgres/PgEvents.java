package io.sluice.store.postgres;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one write transaction tells other brokers besides its appends: claims of exclusive groups,
 * topic deletions, cursor resets and group deletions, and settles or releases of shared groups (one
 * line per group and transaction, never one per message). The transaction's notification carries
 * them as lines ({@link #lines}) before its appends; {@link PgNotifications} reads them on the other
 * brokers. Writer thread only.
 *
 * <p>Lines (names never hold spaces, see {@link io.sluice.domain.Names}): {@code C <epoch> <topic>
 * <group>} a claim; {@code D <topic id> <topic>} a deletion; {@code R <cursor> <epoch> <topic> <group>}
 * a cursor reset, cursor -1 and epoch 0 for a deleted group; {@code S <1 released | 0 settled> <topic>
 * <group>} a shared group's leases changed.
 */
final class PgEvents {
    record Topic(long id, String name) {
    }

    record Claim(String topic, String group, long epoch) {
    }

    record Reset(String topic, String group, long cursor, long epoch) {
    }

    /** Topics created: not told to others (their polls find them), kept for this broker's bookkeeping. */
    final List<Topic> created = new ArrayList<>();
    final List<Topic> deleted = new ArrayList<>();
    final List<Claim> claims = new ArrayList<>();
    final List<Reset> resets = new ArrayList<>();
    /** Shared groups whose leases were settled or released, by "topic group": true when any was released. */
    private final Map<String, Boolean> shared = new LinkedHashMap<>();

    void created(long id, String topic) {
        created.add(new Topic(id, topic));
    }

    void deleted(long id, String topic) {
        deleted.add(new Topic(id, topic));
    }

    void claimed(String topic, String group, long epoch) {
        claims.add(new Claim(topic, group, epoch));
    }

    void reset(String topic, String group, long cursor, long epoch) {
        resets.add(new Reset(topic, group, cursor, epoch));
    }

    /** Leases of a shared group were settled ({@code released} false) or given back (true). */
    void shared(String topic, String group, boolean released) {
        shared.merge(topic + " " + group, released, Boolean::logicalOr);
    }

    /** The lines other brokers are told, each ending in a newline; empty when there is nothing to tell. */
    String lines() {
        var sb = new StringBuilder();
        for (Claim c : claims) {
            sb.append("C ").append(c.epoch()).append(' ').append(c.topic()).append(' ').append(c.group()).append('\n');
        }
        for (Topic t : deleted) {
            sb.append("D ").append(t.id()).append(' ').append(t.name()).append('\n');
        }
        for (Reset r : resets) {
            sb.append("R ").append(r.cursor()).append(' ').append(r.epoch()).append(' ').append(r.topic()).append(' ')
                    .append(r.group()).append('\n');
        }
        shared.forEach((key, released) ->
                sb.append("S ").append(released ? 1 : 0).append(' ').append(key).append('\n'));
        return sb.toString();
    }

    void clear() {
        created.clear();
        deleted.clear();
        claims.clear();
        resets.clear();
        shared.clear();
    }
}
