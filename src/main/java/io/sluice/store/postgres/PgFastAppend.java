package io.sluice.store.postgres;

import io.sluice.domain.Attributes;
import io.sluice.domain.MessageIds;
import io.sluice.store.Appended;
import io.sluice.store.NewMessage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A batch of plain appends (no expected last sequence, no dedup id) to topics that exist and have no
 * count or byte limit, written as one statement run in autocommit: its own transaction, one round
 * trip, where {@link PgWriteTx} takes three (counter and topics, inserts, COMMIT). The statement does
 * what that transaction does for such a batch, in the same order of locks:
 *
 * <ol>
 * <li>sets the run's commit mark to the transaction's number, with the sequence before its first
 * message and its timestamp ({@link PgCommitMarks}: an answer lost during the statement is resolved as
 * after a lost COMMIT);</li>
 * <li>reserves the batch's sequences in the counter row, which it holds until it ends, so sequence order
 * stays commit order across brokers (the counter row is locked before any topic row: the topics' update
 * needs its result);</li>
 * <li>updates each topic's last sequence, position and bytes, only for a topic that exists and has no
 * {@code max_messages} or {@code max_bytes} (read as last committed, after the counter row's wait);</li>
 * <li>inserts the messages, each id made by the server from the timestamp, the sequence and 12 random
 * bits chosen here ({@link MessageIds#create(long, long, int)});</li>
 * <li>sends the notification other brokers hear of the commit by.</li>
 * </ol>
 *
 * <p>A topic that is missing or has a limit (deleted, created or configured by a transaction this
 * broker did not know of) leaves its messages without a topic id: the insert then fails on the
 * {@code NOT NULL} of {@code messages.topic_id}, the whole statement with it, nothing is written, and
 * the writer runs the batch as a transaction ({@link #isNotPlain}). Which topics are plain is learned
 * from the writer's transactions ({@link Plain#learn}), so a batch is tried here only when every topic it
 * appends to was plain at its last append by this broker. Used by the writer thread only.
 */
final class PgFastAppend implements AutoCloseable {
    /** Topics remembered as plain; past this many the set starts again (they are learned again). */
    static final int MAX_KNOWN = 10_000;
    private static final String STATEMENT = """
            WITH c AS (UPDATE sluice_counter SET last_seq = last_seq + ?, last_ts = greatest(last_ts, ?)
                       WHERE id = 1 RETURNING last_seq - ? AS base, last_ts AS ts),
                 mark AS (INSERT INTO commit_marks (epoch, txn, base, ts) SELECT ?, ?, c.base, c.ts FROM c
                          ON CONFLICT (epoch) DO UPDATE SET txn = excluded.txn, base = excluded.base,
                                                            ts = excluded.ts, at = now()),
                 p AS (SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[])
                                WITH ORDINALITY AS p(name, cnt, bytes, last_ord, tix)),
                 t AS (UPDATE topics SET last_seq = c.base + p.last_ord, last_pos = topics.last_pos + p.cnt,
                                         last_bytes = topics.last_bytes + p.bytes
                       FROM c, p WHERE topics.name = ANY(?::text[]) AND topics.name = p.name
                                   AND topics.max_messages = 0 AND topics.max_bytes = 0
                       RETURNING p.tix, p.name, topics.id, topics.last_pos - p.cnt AS pos0,
                                 topics.last_bytes - p.bytes AS bytes0, c.base + p.last_ord AS last_seq),
                 ins AS (INSERT INTO messages (topic_id, seq, pos, mid, ts, payload, attrs, crc, bstart)
                         SELECT t.id, c.base + r.ord, t.pos0 + r.rank,
                                int8send((c.ts & 281474976710655) << 16 | 28672 | r.ra)
                                    || int8send((c.base + r.ord) & 4611686018427387903 | x'8000000000000000'::bigint),
                                c.ts, r.payload, r.attrs, r.crc, t.bytes0 + r.before
                         FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bytea[], ?::bytea[],
                                     ?::bigint[]) WITH ORDINALITY AS r(tix, rank, before, ra, payload, attrs, crc, ord)
                         CROSS JOIN c LEFT JOIN t ON t.tix = r.tix)
            SELECT c.base, c.ts, pg_notify(?, (SELECT string_agg(t.last_seq || ' ' || t.name || E'\\n', ''
                                                              ORDER BY t.tix) FROM t))
            FROM c""";

    private final PreparedStatement statement;

    PgFastAppend(Connection c) throws SQLException {
        statement = c.prepareStatement(STATEMENT);
    }

    /** The topics known to be plain (the writer's, kept across its connections). */
    static final class Plain {
        private final Set<String> topics = new HashSet<>();

        /** The batch's plain appends, or null when some operation of it is not one, or not to a known plain topic. */
        List<PgWriteOp.Append> eligible(List<PgWriteOp<?>> batch) {
            var appends = new ArrayList<PgWriteOp.Append>(batch.size());
            var named = new HashSet<String>();
            int notice = 0;
            for (PgWriteOp<?> op : batch) {
                if (!(op instanceof PgWriteOp.Append a) || !topics.contains(a.appendsTo()) || !a.plain()
                        || a.messageCount() == 0) {
                    return null;
                }
                if (named.add(a.appendsTo())) {
                    notice += a.appendsTo().length() + 22;
                }
                appends.add(a);
            }
            // The notification names each topic once; a batch whose notice could be too long goes the long way.
            return notice > PgNotifications.MAX_PAYLOAD ? null : appends;
        }

        /** After a transaction of the writer: whether each topic it appended to is plain now. */
        void learn(Map<String, Boolean> appended) {
            if (topics.size() + appended.size() > MAX_KNOWN) {
                topics.clear();
            }
            appended.forEach((topic, isPlain) -> {
                if (isPlain) {
                    topics.add(topic);
                } else {
                    topics.remove(topic);
                }
            });
        }

        /** Forgets the topics of a batch the statement refused ({@link PgFastAppend#isNotPlain}); they are learned again. */
        void forget(List<PgWriteOp.Append> appends) {
            for (PgWriteOp.Append a : appends) {
                topics.remove(a.appendsTo());
            }
        }
    }

    /** True when {@code e} is the statement's refusal of a topic that is missing or has limits. */
    static boolean isNotPlain(SQLException e) {
        return "23502".equals(e.getSQLState());
    }

    /** The rows of one batch, bound and then answered from the statement's result. */
    static final class Batch {
        final List<PgWriteOp.Append> appends;
        final int messages;
        private final long[] randA;
        private final Map<String, long[]> topics = new LinkedHashMap<>();   // name -> {tix, cnt, bytes, last ord}
        private final long[] tix;
        private final long[] rank;
        private final long[] before;
        private final byte[][] payloads;
        private final byte[][] attrs;
        private final long[] crcs;

        Batch(List<PgWriteOp.Append> appends) {
            this.appends = appends;
            int n = 0;
            for (PgWriteOp.Append a : appends) {
                n += a.messageCount();
            }
            messages = n;
            randA = new long[n];
            tix = new long[n];
            rank = new long[n];
            before = new long[n];
            payloads = new byte[n][];
            attrs = new byte[n][];
            crcs = new long[n];
            var random = ThreadLocalRandom.current();
            int i = 0;
            for (PgWriteOp.Append a : appends) {
                long[] topic = topics.computeIfAbsent(a.appendsTo(), name -> new long[] {topics.size() + 1, 0, 0, 0});
                for (NewMessage m : a.messages()) {
                    randA[i] = random.nextInt(1 << 12);
                    tix[i] = topic[0];
                    rank[i] = ++topic[1];
                    before[i] = topic[2];
                    topic[2] += m.size();
                    topic[3] = i + 1;
                    payloads[i] = m.payload().toByteArray();   // JDBC binds arrays only
                    attrs[i] = Attributes.encode(m.attributes());
                    crcs[i] = PgWriteOp.checksum(payloads[i], attrs[i]);
                    i++;
                }
            }
        }

        /** Each topic with its last sequence, in the order first appended to, once {@code base} is known. */
        Map<String, Long> lastSequences(long base) {
            var out = new LinkedHashMap<String, Long>();
            topics.forEach((name, t) -> out.put(name, base + t[3]));
            return out;
        }

        /** Sets each append's result: sequences from {@code base + 1} in batch order, all stamped {@code ts}. */
        void answer(long base, long ts) {
            int i = 0;
            for (PgWriteOp.Append a : appends) {
                var results = new Appended[a.messageCount()];
                for (int j = 0; j < results.length; j++, i++) {
                    long seq = base + i + 1;
                    results[j] = new Appended(MessageIds.create(ts, seq, (int) randA[i]), seq, ts);
                }
                a.computed(List.of(results));
            }
        }
    }

    /**
     * Runs the statement for {@code batch} as transaction {@code txn} of run {@code epoch} at wall clock
     * {@code clock}, notifying on {@code channel}: {base, ts}. The connection must be in autocommit.
     */
    long[] run(Batch batch, long epoch, long txn, long clock, String channel) throws SQLException {
        int k = batch.topics.size();
        var names = new String[k];
        var counts = new long[k];
        var bytes = new long[k];
        var lastOrds = new long[k];
        int j = 0;
        for (var e : batch.topics.entrySet()) {
            names[j] = e.getKey();
            counts[j] = e.getValue()[1];
            bytes[j] = e.getValue()[2];
            lastOrds[j] = e.getValue()[3];
            j++;
        }
        PreparedStatement st = statement;
        st.setLong(1, batch.messages);
        st.setLong(2, clock);
        st.setLong(3, batch.messages);
        st.setLong(4, epoch);
        st.setLong(5, txn);
        st.setObject(6, names);
        st.setObject(7, counts);
        st.setObject(8, bytes);
        st.setObject(9, lastOrds);
        st.setObject(10, names);   // again, for the unique index on topics' names
        st.setObject(11, batch.tix);
        st.setObject(12, batch.rank);
        st.setObject(13, batch.before);
        st.setObject(14, batch.randA);
        st.setObject(15, batch.payloads);
        st.setObject(16, batch.attrs);
        st.setObject(17, batch.crcs);
        st.setString(18, channel);
        try (ResultSet rs = st.executeQuery()) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2)};
        } finally {
            Arrays.fill(batch.payloads, null);
        }
    }

    @Override
    public void close() throws SQLException {
        statement.close();
    }
}
