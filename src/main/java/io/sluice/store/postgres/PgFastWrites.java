package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.StoreListener;
import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The writer's one-statement transactions ({@link PgFastAppend}): which batches may go that way, running
 * one, and answering it, also after its answer was lost. Writer thread only, except {@link #committed}.
 */
final class PgFastWrites {
    private static final System.Logger LOG = System.getLogger(PgWriter.class.getName());

    private final PgWriter writer;
    private final PgWriterLink link;
    private final long epoch;
    private final LongSupplier clock;
    private final PgCommitAnnouncer announce;
    private final PgFastAppend.Plain plainTopics = new PgFastAppend.Plain();
    private volatile long committed;   // written by the writer thread only

    PgFastWrites(PgWriter writer, PgWriterLink link, long epoch, LongSupplier clock, PgCommitAnnouncer announce) {
        this.writer = writer;
        this.link = link;
        this.epoch = epoch;
        this.clock = clock;
        this.announce = announce;
    }

    /** How many one-statement transactions committed. */
    long committed() {
        return committed;
    }

    /** The batch's appends when it may go as one statement, else null ({@link PgFastAppend.Plain#eligible}). */
    List<PgWriteOp.Append> eligible(List<PgWriteOp<?>> batch) {
        return plainTopics.eligible(batch);
    }

    /** After a transaction of the writer: whether each topic it appended to is plain now. */
    void learn(Map<String, Boolean> appended) {
        plainTopics.learn(appended);
    }

    /**
     * Runs a batch of plain appends to plain topics as one statement in autocommit, as transaction
     * {@code txn}: true when answered (stored, failed, or in doubt and resolved as after a lost COMMIT);
     * false when the statement found a topic missing or limited and wrote nothing, so the batch goes as
     * a transaction. The writer's connection is open.
     */
    boolean execute(List<PgWriteOp<?>> batch, List<PgWriteOp.Append> appends, long txn) {
        long started = System.nanoTime();
        PgFastAppend fast = link.tx().fast;
        var rows = new PgFastAppend.Batch(appends);
        boolean sending = false;
        long[] result;
        try {
            writer.runHook(batch.size());
            link.connection().setAutoCommit(true);
            sending = true;
            try {
                result = fast.run(rows, epoch, txn, clock.getAsLong(), announce.channel());
            } finally {
                if (!link.connection().isClosed()) {
                    link.connection().setAutoCommit(false);
                }
            }
        } catch (SQLException | RuntimeException e) {
            boolean lost = e instanceof SQLException sql && link.lost(sql);
            if (lost && sending) {
                resolve(batch, rows, txn, e, started);
                return true;
            }
            if (!lost && e instanceof SQLException sql && PgFastAppend.isNotPlain(sql)) {
                plainTopics.forget(appends);
                return false;
            }
            SluiceException failure = PgErrors.ofFailedWrite(e, lost, false, batch.size());
            batch.forEach(op -> op.fail(failure));
            return true;
        }
        answer(batch, rows, result[0], result[1], started);
        return true;
    }

    private void answer(List<PgWriteOp<?>> batch, PgFastAppend.Batch rows, long base, long ts, long started) {
        committed++;
        rows.answer(base, ts);
        Map<String, Long> untold = announce.committedAppends(rows.lastSequences(base));
        var events = new ArrayList<Consumer<StoreListener>>(untold.size());
        untold.forEach((topic, seq) -> events.add(l -> l.appended(topic, seq)));
        writer.tell(batch, events, rows.messages, System.nanoTime() - started);
    }

    /** The connection broke while the statement ran: answered as it turned out. */
    private void resolve(List<PgWriteOp<?>> batch, PgFastAppend.Batch rows, long txn, Exception e, long started) {
        LOG.log(Level.WARNING, "lost the database connection during the statement storing " + batch.size()
                + " writes (" + e.getMessage() + "); learning whether it took effect");
        PgCommitMarks.Outcome outcome = link.resolve(epoch, txn);
        if (outcome != null && outcome.committed()) {
            LOG.log(Level.INFO, "the interrupted statement took effect: its " + batch.size() + " writes are answered");
            answer(batch, rows, outcome.base(), outcome.ts(), started);
            return;
        }
        SluiceException failure;
        if (outcome == null) {
            failure = PgErrors.ofFailedWrite(e, true, true, batch.size());
        } else {
            LOG.log(Level.INFO, "the interrupted statement did not take effect: its " + batch.size()
                    + " writes are answered as not stored");
            failure = PgErrors.notStored(batch.size(), e);
        }
        batch.forEach(op -> op.fail(failure));
    }
}
