package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.CommitHook;
import io.sluice.store.CommitObserver;
import io.sluice.store.Completion;
import io.sluice.store.StoreListener;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The one platform thread, {@code sluice-writer}, that owns the write connection. It takes one
 * operation, drains whatever else is queued (up to a cap), applies all of it in one transaction,
 * commits, and only then completes every caller and tells the listener; if anything fails it rolls
 * back and fails every caller of that transaction. Group commit is sized by what is queued: no
 * waiting for a batch to fill.
 *
 * <p>Threading: {@link #submit} is called by any thread and blocks while the queue holds its
 * capacity of such operations (that is the backpressure on publishers); {@link #submitPaced} never
 * blocks, for callers that bound what they have in flight themselves (a stream's window).
 * Completions and listener calls run on the writer thread.
 *
 * <p>A deleted topic's messages are removed a chunk per transaction, each sized to take about 2 ms
 * of the writer's time ({@link ChunkSize}): the first chunk
 * (all of a small topic) with the deletion; while any are left after it, every transaction the
 * writer runs begins with one more chunk besides what was queued, and the writer does not wait for
 * work. A purge cut short by a stop resumes at the next start.
 */
final class Writer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Writer.class.getName());
    private static final long PURGE_REPORT_NANOS = 10_000_000_000L;
    private static final long PURGE_RETRY_NANOS = 1_000_000_000L;

    private final Connection connection;
    private WriteTx tx;   // replaced after a failed transaction; writer thread only
    private final ArrayDeque<WriteOp.Purge> purges = new ArrayDeque<>();   // writer thread only, once started
    private long purgesPausedUntil = System.nanoTime();   // after a failed chunk; writer thread only
    private final WriteQueue queue;
    private final int maxBatch;
    private final StoreListener listener;
    private final CommitObserver observer;
    private final CommitHook beforeCommit;   // test seam; null in production
    private final Thread thread;
    private boolean diskFull;          // writer thread only: a full disk was logged; no message stored since
    private final Reserve reserve;     // writer thread only, then the closer's

    Writer(Connection connection, WriteTx tx, int queueCapacity, int maxBatch, StoreListener listener,
           CommitObserver observer, CommitHook beforeCommit, List<TopicRow> unfinishedPurges, Reserve reserve) {
        this.connection = connection;
        this.reserve = reserve;
        this.tx = tx;
        this.queue = new WriteQueue(queueCapacity);
        this.maxBatch = maxBatch;
        this.listener = listener;
        this.observer = observer;
        this.beforeCommit = beforeCommit;
        this.thread = Thread.ofPlatform().name("sluice-writer").unstarted(this::run);
        for (TopicRow deleted : unfinishedPurges) {
            LOG.log(Level.INFO, "resuming the purge of deleted topic " + deleted.name + "'s messages");
            purge(deleted);
        }
    }

    /** Queues the removal of a deleted topic's messages, a chunk per transaction; reports progress and the end. */
    private void purge(TopicRow deleted) {
        long started = System.nanoTime();
        purges.add(new WriteOp.Purge(deleted.id, new Completion<WriteOp.Purge.Chunk>() {
            private long removed;
            private long reported = started;

            @Override
            public void committed(WriteOp.Purge.Chunk chunk) {
                removed += chunk.removed();
                long now = System.nanoTime();
                if (!chunk.more()) {
                    purges.removeIf(p -> p.topicId == deleted.id);
                    LOG.log(Level.INFO, String.format("purged the rest of deleted topic %s: %,d messages in %.1f s",
                            deleted.name, removed, (now - started) / 1e9));
                } else if (now - reported >= PURGE_REPORT_NANOS) {
                    reported = now;
                    LOG.log(Level.INFO, String.format("purging deleted topic %s: %,d messages removed so far",
                            deleted.name, removed));
                }
            }

            @Override
            public void failed(SluiceException error) {
                // The writer has logged why; a second later it is tried again (not at all once
                // writes are refused: then it resumes at the next start).
                purgesPausedUntil = System.nanoTime() + PURGE_RETRY_NANOS;
            }
        }));
    }

    void start() {
        thread.start();
    }

    /** Queues an operation; blocks while the queue is full. Fails the operation when the writer has stopped. */
    void submit(WriteOp<?> op) throws InterruptedException {
        queue.submit(op);
    }

    /** Queues an operation when the queue has room now (see {@link WriteQueue#trySubmit}). */
    boolean trySubmit(WriteOp<?> op) {
        return queue.trySubmit(op);
    }

    /** Queues an operation without waiting for capacity; the caller bounds how many it has queued. */
    void submitPaced(WriteOp<?> op) {
        queue.submitPaced(op);
    }

    /** How many operations wait for the writer now. */
    int queueDepth() {
        return queue.depth();
    }

    private void run() {
        var batch = new ArrayList<WriteOp<?>>(maxBatch);
        try {
            while (true) {
                WriteOp<?> first = next();
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, maxBatch - 1);
                }
                for (WriteOp<?> op : batch) {
                    queue.release(op);   // taken off the queue: blocking submitters may add more meanwhile
                }
                int stopAt = indexOfStop(batch);
                if (stopAt >= 0) {
                    execute(batch.subList(0, stopAt));
                    // Writes that lost the race with close() were drained behind the stop marker:
                    // they are out of the queue now, so failRemaining() would never see them.
                    for (WriteOp<?> late : batch.subList(stopAt + 1, batch.size())) {
                        late.fail(new SluiceException.Unavailable("the broker is shutting down"));
                    }
                    return;
                }
                if (purgeDue()) {
                    batch.addFirst(purges.peek());   // first: the appends after it may take the pages it frees
                }
                execute(batch);
                batch.clear();
            }
        } catch (InterruptedException e) {
            LOG.log(Level.ERROR, "writer interrupted; operations still queued are failed");
        } catch (Throwable t) {
            // The thread's top frame: whatever stopped the writer, nothing is acknowledged from now on,
            // every caller hears why, and the broker is told so it can report it and stop.
            String reason = "storage refuses writes: the writer stopped after " + t
                    + "; the broker must be restarted";
            LOG.log(Level.ERROR, reason, t);
            refuse(reason);
            queue.stopped(reason);
            listener.writerFailed(reason, t);
        } finally {
            String reason = queue.refusal() != null ? queue.refusal() : "the broker is shutting down";
            tx.waiting.failAll(new SluiceException.Unavailable(reason));
            queue.stopped(reason);
        }
    }

    /**
     * The next queued operation, waiting for one only until a purge or retention's background work is
     * due (then null when none is queued).
     */
    private WriteOp<?> next() throws InterruptedException {
        if (queue.refusal() != null) {
            return queue.take();
        }
        long now = System.nanoTime();
        long wait = Math.min(Math.min(tx.retention.nanosUntilDue(now), tx.waiting.nanosUntilDue(now)),
                tx.leaseSweep.nanosUntilLook(now));
        if (!purges.isEmpty()) {
            wait = Math.min(wait, purgesPausedUntil - now);
        }
        return queue.poll(wait);
    }

    private boolean purgeDue() {
        return !purges.isEmpty() && queue.refusal() == null && System.nanoTime() - purgesPausedUntil >= 0;
    }

    private static int indexOfStop(List<WriteOp<?>> batch) {
        for (int i = 0; i < batch.size(); i++) {
            if (batch.get(i) instanceof WriteOp.Stop) {
                return i;
            }
        }
        return -1;
    }

    private void execute(List<WriteOp<?>> queued) {
        // A disk the broker filled keeps the reserve's room for the writes that free space.
        List<WriteOp<?>> batch = !queued.isEmpty() && reserve.holdingBack(this::freeInDatabase, Append.roomNeeded(queued))
                ? refuseAppends(queued) : queued;
        boolean sweep = tx.leaseSweepDue();
        if (batch.isEmpty() && !sweep && !tx.backgroundDue() && !tx.waiting.due(System.nanoTime())) {
            return;
        }
        String refused = queue.refusal();
        if (refused != null) {
            // Queued before the failure that made writes unsafe: they are no safer than later ones.
            var failure = new SluiceException.Unavailable(refused);
            batch.forEach(op -> op.fail(failure));
            tx.waiting.failAll(failure);
            return;
        }
        int messages = 0;
        long started = System.nanoTime();
        try {
            tx.begin();
            tx.waiting.begin();
            for (WriteOp<?> op : batch) {
                if (!op.commutesWithPendingWrites()) {
                    tx.flush();
                }
                op.run(tx);
                messages += op.messageCount();
            }
            tx.sweepLeases();   // expired leases no stream asks about
            tx.waiting.serve(tx, null, null);   // leases for the room this transaction's settles made
            tx.flush();
            tx.retainWithinLimits();   // retention: what these appends put over a limit, and a chunk when due
            tx.saveStateIfDeleting();
            runHook(batch.size());
            connection.commit();
        } catch (Error e) {
            // Out of memory (a batch too large for the heap) or worse: roll back so nothing of it is
            // committed, answer its callers, and let the top frame stop the writer.
            rollback();
            tx.waiting.rolledBack();
            var failure = new SluiceException.Unavailable("the writer failed while committing " + batch.size()
                    + " writes: " + e);
            batch.forEach(op -> op.fail(failure));
            throw e;
        } catch (SQLException | RuntimeException e) {
            rollback();
            tx.waiting.rolledBack();
            resetAfterRollback();
            SluiceException failure = e instanceof SQLException sql
                    ? StorageErrors.map(sql, "committing " + batch.size() + " writes")
                    : new SluiceException.StorageFailure("the writer failed: " + e, e);
            onFailure(failure, e);
            if (failure instanceof SluiceException.DiskFull && retryWithoutAppends(batch, failure)) {
                return;
            }
            for (WriteOp<?> op : batch) {
                op.fail(failure);
            }
            return;
        }
        long commitNanos = System.nanoTime() - started;
        if (diskFull && messages > 0) {
            diskFull = false;
            LOG.log(Level.INFO, "the data directory has room again: messages are stored");
        }
        for (TopicRow deleted : tx.purgesStarted) {
            LOG.log(Level.INFO, "deleted topic " + deleted.name + ": its messages are purged in the background, a "
                    + "chunk of about 2 ms per transaction");
            purge(deleted);
        }
        var events = tx.committed();
        for (WriteOp<?> op : batch) {
            if (!op.parked) {
                op.complete();
            }
        }
        tx.waiting.committed();
        try {
            for (var event : events) {
                event.accept(listener);
            }
            if (!batch.isEmpty()) {   // not retention's own background transactions
                observer.committed(batch.size(), messages, commitNanos);
            }
        } catch (RuntimeException e) {
            // Committed and answered: a listener's bug must not stop the writer (its readers may wake late).
            LOG.log(Level.ERROR, "a commit listener failed", e);
        }
        LOG.log(Level.TRACE, () -> "committed " + batch.size() + " writes in " + commitNanos / 1000 + " us");
    }

    /**
     * A full disk refuses new messages, not the small writes that keep consumers going and let an
     * operator free space (group opens, acks, deletions): when a failed transaction mixed both, its
     * appends fail and the rest is tried again in a transaction of its own (once: that one holds no
     * appends). Answers false when there was nothing to separate.
     */
    private boolean retryWithoutAppends(List<WriteOp<?>> batch, SluiceException failure) {
        var others = new ArrayList<WriteOp<?>>();
        for (WriteOp<?> op : batch) {
            if (!(op instanceof Append)) {
                others.add(op);
            }
        }
        if (others.isEmpty() || others.size() == batch.size()) {
            return false;
        }
        for (WriteOp<?> op : batch) {
            if (op instanceof Append) {
                op.fail(failure);
            }
        }
        execute(others);
        return true;
    }

    /**
     * The disk is full and the reserve's room is kept for the writes that free space: new messages are
     * refused. Appends still run, to be answered what needs no room: a duplicate its original, a stale
     * expectation or a full topic its refusal; one that would store a message is refused for the disk.
     */
    private List<WriteOp<?>> refuseAppends(List<WriteOp<?>> batch) {
        SluiceException full = null;
        for (WriteOp<?> op : batch) {
            if (op instanceof Append append) {
                if (full == null) {
                    full = new SluiceException.DiskFull("the disk holding the data directory is full (or smaller "
                            + "than the room the broker keeps for the writes that free space): new messages are refused "
                            + "until it has " + (2 * Reserve.BYTES >> 20) + " MiB free (acks, deletions and retention "
                            + "go on); free space and retry", null);
                }
                append.storesNothing(full);
            }
        }
        return batch;
    }

    /** Bytes of the database's free pages (what deletions and retention freed), which new messages fill first. */
    private long freeInDatabase() {
        try (var st = connection.createStatement();
             var free = st.executeQuery("PRAGMA freelist_count")) {
            long pages = free.next() ? free.getLong(1) : 0;
            try (var size = st.executeQuery("PRAGMA page_size")) {
                return size.next() ? pages * size.getLong(1) : 0;
            }
        } catch (java.sql.SQLException e) {
            return 0;
        }
    }

    /** The broker is stopping: gives the reserve's room to the last copy of the log into the database. */
    void releaseReserve() {
        reserve.giveBack();
    }

    private void onFailure(SluiceException failure, Exception cause) {
        if (failure instanceof SluiceException.DiskFull) {
            reserve.diskFull();
            if (!diskFull) {   // once per episode: publishers retrying into a full disk would flood the log
                diskFull = true;
                LOG.log(Level.WARNING, failure.getMessage() + "; refusals are not logged again until a message "
                        + "is stored");
            }
            return;
        }
        if (cause instanceof SQLException sql && StorageErrors.primaryCode(sql) == StorageErrors.SQLITE_IOERR) {
            // After a failed write or fsync the file's state is unknown: the kernel may have dropped
            // the dirty pages. Acknowledging anything more would be a lie; refuse until a restart
            // reopens the database and lets SQLite recover from its journal.
            refuse("storage refuses writes after an I/O error (" + StorageErrors.describe(sql)
                    + "); restart the broker to recover");
            LOG.log(Level.ERROR, "I/O error while committing; refusing writes until restart", cause);
            return;
        }
        if (failure instanceof SluiceException.Corrupted) {
            // Writing on into a b-tree SQLite found damaged can spread the damage; the check at the
            // next start says whether the file is sound.
            refuse("storage refuses writes: the database reported damage (" + failure.getMessage()
                    + "); restart the broker, which checks the database before serving");
            LOG.log(Level.ERROR, "the database reported damage while committing; refusing writes until restart", cause);
            return;
        }
        LOG.log(Level.ERROR, failure.getMessage(), cause);
    }

    /** From now on every write fails with {@code reason}, until a restart; the listener hears it once. */
    private void refuse(String reason) {
        if (queue.refuse(reason)) {
            listener.refusingWrites(reason);
        }
    }

    private void resetAfterRollback() {
        tx.rolledBack();
        try {
            tx = tx.prepareAgain();
        } catch (SQLException e) {
            refuse("storage refuses writes: its statements cannot be prepared again after a failed commit ("
                    + StorageErrors.describe(e) + "); restart the broker to recover");
            LOG.log(Level.ERROR, queue.refusal(), e);
        }
    }

    private void rollback() {
        try {
            connection.rollback();
        } catch (SQLException e) {
            // SQLite rolls the transaction back by itself on some errors (a full disk, an I/O
            // error); sqlite-jdbc's rollback then fails before it begins the next transaction, and
            // every later write would commit one statement at a time. Begin it here.
            try (Statement st = connection.createStatement()) {
                st.execute("BEGIN");
            } catch (SQLException again) {
                // A transaction is still open after a failed rollback: its changes must never be
                // committed by a later batch.
                refuse("storage refuses writes: a failed transaction could not be rolled back ("
                        + StorageErrors.describe(e) + "); restart the broker to recover");
                LOG.log(Level.ERROR, queue.refusal());
            }
        }
    }

    /** Stops accepting, commits everything already queued, and joins the thread. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        if (!queue.accepting()) {
            thread.join();
            return;
        }
        queue.stopAccepting();
        if (thread.isAlive()) {
            queue.putStop();
            thread.join();
        }
        queue.stopped("the broker is shutting down");
    }

    /** The test seam's failure is a storage failure of this commit; SQLite's own errors keep their codes. */
    private void runHook(int writes) throws SQLException {
        if (beforeCommit == null) {
            return;
        }
        try {
            beforeCommit.beforeCommit(writes);
        } catch (SQLException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new SQLException("the commit hook failed: " + e, e);
        }
    }
}
