package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.CommitHook;
import io.sluice.store.CommitObserver;
import io.sluice.store.StoreListener;
import io.sluice.store.TopicConfig;
import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The one thread of a broker that writes to PostgreSQL ({@code sluice-pg-writer}): it drains what
 * is queued into one transaction (group commit: never a transaction per message), commits, and
 * only then completes each operation and tells the listener what changed. Its connection is
 * opened when the first batch needs it and again after it is lost, so the broker rides through a
 * restart or failover of the database: the batches meanwhile fail as {@code Unavailable}.
 *
 * <p>A COMMIT whose answer never arrived (the connection broke during it) is resolved before anyone
 * is answered: on a new connection, once that transaction has ended, its commit mark ({@link
 * PgCommitMarks}) says whether it took effect. Its writes are then answered as stored, with what the
 * transaction computed, or as failed and not stored; when the outcome cannot be learned within
 * {@link PgWriterLink#RESOLVE_NANOS}, as failed with a message saying it is unknown, never as stored.
 *
 * <p>Threading: {@link #submit}, {@link #trySubmit}, {@link #submitPaced} and {@link #close} are
 * called from any thread; everything else runs on the writer thread.
 */
final class PgWriter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PgWriter.class.getName());

    private final LongSupplier clock;
    private final LinkedBlockingQueue<PgWriteOp<?>> queue = new LinkedBlockingQueue<>();
    private final Semaphore slots;
    private final int maxBatch;
    private final StoreListener listener;
    private final CommitObserver observer;
    private final CommitHook beforeCommit;
    private final Thread thread;
    private final PgCommitAnnouncer announce;
    private final long epoch;
    private long nextBackground = System.nanoTime();   // writer thread only
    private volatile boolean accepting = true;
    private volatile boolean stopped;
    private volatile String refusal;
    private final PgWriterLink link;
    private long transactions;   // writer thread only: the number of the last transaction begun
    private final PgFastWrites fast;

    PgWriter(PgConnector connector, LongSupplier clock, int maxGroupsPerTopic, long dedupWindowMillis,
             int queueCapacity, int maxBatch,
             StoreListener listener, CommitObserver observer, CommitHook beforeCommit, PgCommitAnnouncer announce,
             long epoch, TopicConfig topicDefaults, PgResetFences resetFences, int maxTopics) {
        this.link = new PgWriterLink(connector, c -> new PgWriteTx(c, clock, maxGroupsPerTopic, dedupWindowMillis,
                epoch, topicDefaults, resetFences, maxTopics), announce);
        this.epoch = epoch;
        this.clock = clock;
        this.slots = new Semaphore(queueCapacity);
        this.maxBatch = maxBatch;
        this.listener = listener;
        this.observer = observer;
        this.beforeCommit = beforeCommit;
        this.announce = announce;
        this.thread = Thread.ofPlatform().name("sluice-pg-writer").daemon().unstarted(this::run);
        this.fast = new PgFastWrites(this, link, epoch, clock, announce);
    }

    void start() {
        thread.start();
    }

    /** Queues an operation; blocks while the queue is full. Fails the operation when the writer has stopped. */
    void submit(PgWriteOp<?> op) throws InterruptedException {
        if (refused(op)) {
            return;
        }
        slots.acquire();
        op.holdsSlot = true;
        enqueue(op);
    }

    /** Queues an operation when there is room now: true when taken (or failed at once), false when full. */
    boolean trySubmit(PgWriteOp<?> op) {
        if (refused(op)) {
            return true;
        }
        if (!slots.tryAcquire()) {
            return false;
        }
        op.holdsSlot = true;
        enqueue(op);
        return true;
    }

    /** Queues an operation without waiting for capacity; the caller bounds how many it has queued. */
    void submitPaced(PgWriteOp<?> op) {
        if (!refused(op)) {
            enqueue(op);
        }
    }

    private boolean refused(PgWriteOp<?> op) {
        String why = !accepting ? "the broker is shutting down" : refusal;
        if (why == null) {
            return false;
        }
        op.fail(new SluiceException.Unavailable(why));
        return true;
    }

    private void enqueue(PgWriteOp<?> op) {
        queue.add(op);
        if (stopped && queue.remove(op)) {   // lost a race with close()
            release(op);
            op.fail(new SluiceException.Unavailable("the broker is shutting down"));
        }
    }

    private void release(PgWriteOp<?> op) {
        if (op.holdsSlot) {
            op.holdsSlot = false;
            slots.release();
        }
    }

    int queueDepth() {
        return queue.size();
    }

    /** How many of this writer's transactions were one statement ({@link PgFastAppend}). */
    long oneStatementTransactions() {
        return fast.committed();
    }

    private void run() {
        var batch = new ArrayList<PgWriteOp<?>>(Math.min(maxBatch, 1024));
        try {
            while (true) {
                PgWriteOp<?> first = queue.poll(Math.max(0, nextBackground - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, maxBatch - 1);
                    batch.forEach(this::release);
                }
                PgRetention.Background background = backgroundDue(!batch.isEmpty());
                if (background != null) {
                    batch.addFirst(background);
                } else if (batch.isEmpty()) {
                    continue;
                }
                int stopAt = indexOfStop(batch);
                if (stopAt >= 0) {
                    execute(batch.subList(0, stopAt));
                    for (PgWriteOp<?> late : batch.subList(stopAt + 1, batch.size())) {
                        late.fail(new SluiceException.Unavailable("the broker is shutting down"));
                    }
                    return;
                }
                execute(batch);
                batch.clear();
                if (background != null && background.more) {
                    nextBackground = System.nanoTime();   // work left: the next chunk at once
                }
            }
        } catch (InterruptedException e) {
            LOG.log(Level.ERROR, "writer interrupted; operations still queued are failed");
        } catch (Throwable t) {
            String reason = "storage refuses writes: the writer stopped after " + t + "; the broker must be restarted";
            LOG.log(Level.ERROR, reason, t);
            var failure = new SluiceException.Unavailable(reason);
            batch.forEach(op -> op.fail(failure));   // those already answered are not told again
            refusal = reason;
            listener.refusingWrites(reason);
            stopped = true;
            failRemaining(reason);
            listener.writerFailed(reason, t);
        } finally {
            stopped = true;
            failRemaining(refusal != null ? refusal : "the broker is shutting down");
            link.drop();
        }
    }

    /**
     * Once a second: a background transaction of retention, purges ({@link PgRetention}) and expired
     * leases no stream asked about, when there is such work. With other writes to commit it joins their
     * transaction; alone, it runs only when a read on the writer's connection finds work, so an idle
     * writer commits nothing.
     */
    private PgRetention.Background backgroundDue(boolean busy) {
        long now = System.nanoTime();
        if (now - nextBackground < 0 || refusal != null) {
            return null;
        }
        nextBackground = now + PgRetention.CHECK_NANOS;
        if (busy) {
            return new PgRetention.Background();
        }
        if (link.connect() != null) {
            return null;
        }
        try {
            PgWriteTx tx = link.tx();
            return tx.retention.workDue(link.connection(), tx.leases, clock.getAsLong())
                    ? new PgRetention.Background() : null;
        } catch (SQLException e) {
            link.lost(e);
            return null;
        }
    }

    private static int indexOfStop(List<PgWriteOp<?>> batch) {
        for (int i = 0; i < batch.size(); i++) {
            if (batch.get(i) instanceof PgWriteOp.Stop) {
                return i;
            }
        }
        return -1;
    }

    private void execute(List<PgWriteOp<?>> batch) {
        if (batch.isEmpty()) {
            return;
        }
        String refused = refusal;
        if (refused != null) {
            var failure = new SluiceException.Unavailable(refused);
            batch.forEach(op -> op.fail(failure));
            return;
        }
        SluiceException noConnection = link.connect();
        if (noConnection != null) {
            batch.forEach(op -> op.fail(noConnection));
            return;
        }
        List<PgWriteOp.Append> plain = fast.eligible(batch);
        if (plain != null && fast.execute(batch, plain, ++transactions)) {
            return;
        }
        int messages = 0;
        var appendsTo = new LinkedHashSet<String>();
        for (PgWriteOp<?> op : batch) {
            messages += op.messageCount();
            if (op.appendsTo() != null) {
                appendsTo.add(op.appendsTo());
            }
        }
        long started = System.nanoTime();
        long txn = ++transactions;
        PgWriteTx tx = link.tx();
        boolean committing = false;
        try {
            tx.begin(messages, txn, List.copyOf(appendsTo));
            for (PgWriteOp<?> op : batch) {
                if (!op.commutesWithPendingWrites()) {
                    tx.flush();
                }
                op.run(tx);
            }
            if (tx.notifiesInLastStatement()) {
                tx.finishAndNotify(announce);   // one round trip fewer, and the rows locked that much less
            } else {
                tx.finish();
                announce.beforeCommit(link.connection(), tx.appendedLastSequences(), tx.events);
            }
            runHook(batch.size());
            committing = true;
            link.connection().commit();
            fast.learn(tx.appendedPlain());
        } catch (Error e) {
            announce.rolledBack();
            link.rollback();
            var failure = new SluiceException.Unavailable("the writer failed while committing " + batch.size()
                    + " writes: " + e);
            batch.forEach(op -> op.fail(failure));
            throw e;
        } catch (SQLException | RuntimeException e) {
            boolean lost = e instanceof SQLException sql && link.lost(sql);
            if (lost && committing) {
                inDoubt(batch, tx, txn, e, messages, started);
                return;
            }
            SluiceException failure = PgErrors.ofFailedWrite(e, lost, committing, batch.size());
            announce.rolledBack();
            tx.clear();
            link.rollback();
            batch.forEach(op -> op.fail(failure));
            return;
        }
        announce.committed();
        answer(batch, tx, messages, System.nanoTime() - started);
    }

    /** After a commit: completes each operation, then tells the listener what changed. */
    private void answer(List<PgWriteOp<?>> batch, PgWriteTx tx, int messages, long commitNanos) {
        tell(batch, tx.committed(), messages, commitNanos);
    }

    /** Completes each operation of a committed batch, then tells the listener {@code events}. */
    void tell(List<PgWriteOp<?>> batch, List<Consumer<StoreListener>> events, int messages, long commitNanos) {
        for (PgWriteOp<?> op : batch) {
            op.complete();
        }
        try {
            for (var event : events) {
                event.accept(listener);
            }
            observer.committed(batch.size(), messages, commitNanos);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "a commit listener failed", e);
        }
    }

    /**
     * The connection broke during the COMMIT of transaction {@code txn}: its outcome is learned on a
     * new connection before its writes are answered, as stored (with what {@code tx} computed) or not.
     */
    private void inDoubt(List<PgWriteOp<?>> batch, PgWriteTx tx, long txn, Exception e, int messages, long started) {
        LOG.log(Level.WARNING, "lost the database connection during the COMMIT of " + batch.size() + " writes ("
                + e.getMessage() + "); learning whether it took effect");
        // Learning it may take until the database answers again (up to 10 s): the writes queued behind
        // were never sent, so they are answered at once rather than kept waiting for that.
        failRemaining("the connection to the database was lost (" + e.getMessage() + "); this write was not "
                + "sent, nothing of it is stored; the broker reconnects by itself, retry");
        PgCommitMarks.Outcome outcome = link.resolve(epoch, txn);
        Boolean stored = outcome == null ? null : outcome.committed();
        if (Boolean.TRUE.equals(stored)) {
            LOG.log(Level.INFO, "the interrupted COMMIT took effect: its " + batch.size() + " writes are answered");
            announce.committed();
            answer(batch, tx, messages, System.nanoTime() - started);
            return;
        }
        announce.rolledBack();
        tx.clear();
        SluiceException failure;
        if (stored == null) {
            failure = PgErrors.ofFailedWrite(e, true, true, batch.size());
        } else {
            LOG.log(Level.INFO, "the interrupted COMMIT did not take effect: its " + batch.size()
                    + " writes are answered as not stored");
            failure = PgErrors.notStored(batch.size(), e);
        }
        batch.forEach(op -> op.fail(failure));
    }

    private void failRemaining(String reason) {
        var left = new ArrayList<PgWriteOp<?>>();
        queue.drainTo(left);
        for (PgWriteOp<?> op : left) {
            release(op);
            op.fail(new SluiceException.Unavailable(reason));
        }
    }

    /** Stops accepting, commits everything already queued, and joins the thread. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        if (!accepting) {
            thread.join();
            return;
        }
        accepting = false;
        if (thread.isAlive()) {
            queue.put(new PgWriteOp.Stop());
            thread.join();
        }
        stopped = true;
        failRemaining("the broker is shutting down");
    }

    /** The test hook run just before each commit (or one-statement append), if any. */
    void runHook(int writes) throws SQLException {
        if (beforeCommit == null) {
            return;
        }
        try {
            beforeCommit.beforeCommit(writes);
        } catch (SQLException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new SQLException("the commit hook failed: " + e, "XX000", e);
        }
    }
}
