package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.CommitHook;
import io.sluice.store.CommitObserver;
import io.sluice.store.StoreListener;
import io.sluice.store.TopicConfig;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The one thread of a broker that writes to PostgreSQL ({@code sluice-pg-writer}): it drains what
 * is queued into one transaction (group commit: never a transaction per message), commits, and
 * only then completes each operation and tells the listener what changed. Its connection is
 * opened when the first batch needs it and again after it is lost, so the broker rides through a
 * restart or failover of the database: the batches meanwhile fail as {@code Unavailable}.
 *
 * <p>A COMMIT whose answer never arrived (the connection broke during it) may or may not have
 * taken effect: its writes are answered as failed with a message saying so, never as stored.
 *
 * <p>Threading: {@link #submit}, {@link #trySubmit}, {@link #submitPaced} and {@link #close} are
 * called from any thread; everything else runs on the writer thread.
 */
final class PgWriter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PgWriter.class.getName());
    /** After a failed attempt to connect, batches fail at once for this long instead of trying again. */
    private static final long RECONNECT_PAUSE_NANOS = 250_000_000;

    private final PgConnector connector;
    private final LongSupplier clock;
    private final int maxGroupsPerTopic;
    private final long dedupWindowMillis;
    private final LinkedBlockingQueue<PgWriteOp<?>> queue = new LinkedBlockingQueue<>();
    private final Semaphore slots;
    private final int maxBatch;
    private final StoreListener listener;
    private final CommitObserver observer;
    private final CommitHook beforeCommit;
    private final Thread thread;
    private final PgCommitAnnouncer announce;
    private final long epoch;
    private final TopicConfig topicDefaults;
    private long nextBackground = System.nanoTime();   // writer thread only
    private volatile boolean accepting = true;
    private volatile boolean stopped;
    private volatile String refusal;
    private Connection connection;
    private PgWriteTx tx;
    private long connectFailedAt;
    private boolean connectFailed;
    private boolean unreachable;   // logged once per outage

    PgWriter(PgConnector connector, LongSupplier clock, int maxGroupsPerTopic, long dedupWindowMillis,
             int queueCapacity, int maxBatch,
             StoreListener listener, CommitObserver observer, CommitHook beforeCommit, PgCommitAnnouncer announce,
             long epoch, TopicConfig topicDefaults) {
        this.connector = connector;
        this.topicDefaults = topicDefaults;
        this.epoch = epoch;
        this.clock = clock;
        this.maxGroupsPerTopic = maxGroupsPerTopic;
        this.dedupWindowMillis = dedupWindowMillis;
        this.slots = new Semaphore(queueCapacity);
        this.maxBatch = maxBatch;
        this.listener = listener;
        this.observer = observer;
        this.beforeCommit = beforeCommit;
        this.announce = announce;
        this.thread = Thread.ofPlatform().name("sluice-pg-writer").daemon().unstarted(this::run);
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
            dropConnection();
        }
    }

    /**
     * Once a second: a background transaction of retention and purges ({@link PgRetention}) when some
     * topic needs one. With other writes to commit it joins their transaction; alone, it runs only
     * when a read on the writer's connection finds work, so an idle writer commits nothing.
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
        if (connect() != null) {
            return null;
        }
        try {
            return tx.retention.workDue(connection, clock.getAsLong()) ? new PgRetention.Background() : null;
        } catch (SQLException e) {
            if (PgErrors.connectionLost(e) || connectionClosed()) {
                dropConnection();
            }
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
        SluiceException noConnection = connect();
        if (noConnection != null) {
            batch.forEach(op -> op.fail(noConnection));
            return;
        }
        int messages = 0;
        for (PgWriteOp<?> op : batch) {
            messages += op.messageCount();
        }
        long started = System.nanoTime();
        boolean committing = false;
        try {
            tx.begin(messages);
            for (PgWriteOp<?> op : batch) {
                if (!op.commutesWithPendingWrites()) {
                    tx.flush();
                }
                op.run(tx);
            }
            tx.finish();
            announce.beforeCommit(connection, tx.appendedLastSequences(), tx.events);
            runHook(batch.size());
            committing = true;
            connection.commit();
        } catch (Error e) {
            announce.rolledBack();
            rollback();
            var failure = new SluiceException.Unavailable("the writer failed while committing " + batch.size()
                    + " writes: " + e);
            batch.forEach(op -> op.fail(failure));
            throw e;
        } catch (SQLException | RuntimeException e) {
            SluiceException failure = failureOf(e, committing, batch.size());
            announce.rolledBack();
            if (tx != null) {
                tx.clear();
            }
            rollback();
            batch.forEach(op -> op.fail(failure));
            return;
        }
        long commitNanos = System.nanoTime() - started;
        announce.committed();
        var events = tx.committed();
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

    /** What the writes of a failed transaction are told; a lost connection is dropped, to be opened again. */
    private SluiceException failureOf(Exception e, boolean committing, int writes) {
        boolean lost = e instanceof SQLException sql && (PgErrors.connectionLost(sql) || connectionClosed());
        if (lost) {
            dropConnection();
        }
        return PgErrors.ofFailedWrite(e, lost, committing, writes);
    }

    private boolean connectionClosed() {
        try {
            return connection == null || connection.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    /** Opens the connection when there is none; the failure to answer the batch with, or null. */
    private SluiceException connect() {
        if (connection != null) {
            return null;
        }
        if (connectFailed && System.nanoTime() - connectFailedAt < RECONNECT_PAUSE_NANOS) {
            return new SluiceException.Unavailable("the database at " + connector.where()
                    + " is unreachable; the broker is reconnecting, retry");
        }
        try {
            connection = connector.open(false);
            tx = new PgWriteTx(connection, clock, maxGroupsPerTopic, dedupWindowMillis, epoch, topicDefaults);
            announce.connected(connection);
            connectFailed = false;
            if (unreachable) {
                unreachable = false;
                LOG.log(Level.INFO, "connected to the database again: " + connector.where());
            }
            return null;
        } catch (SQLException e) {
            dropConnection();
            connectFailed = true;
            connectFailedAt = System.nanoTime();
            if (!unreachable) {
                unreachable = true;
                LOG.log(Level.WARNING, "cannot connect to the database at " + connector.where() + ": "
                        + PgErrors.describe(e) + "; writes fail as UNAVAILABLE until it answers");
            }
            return new SluiceException.Unavailable("the database at " + connector.where() + " is unreachable ("
                    + PgErrors.describe(e) + "); the broker is reconnecting, retry");
        }
    }

    private void dropConnection() {
        PgConnector.closeQuietly(tx);
        PgConnector.closeQuietly(connection);
        tx = null;
        connection = null;
    }

    private void rollback() {
        if (connection == null) {
            return;
        }
        try {
            connection.rollback();
        } catch (SQLException e) {
            // A rollback that fails leaves the session in an unknown state: start on a new one.
            dropConnection();
        }
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

    private void runHook(int writes) throws SQLException {
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
