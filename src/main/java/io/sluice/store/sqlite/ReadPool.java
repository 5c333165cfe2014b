package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * A small fixed set of read-only connections, each used by one of as many platform threads
 * ({@code sluice-read-N}). sqlite-jdbc's methods are {@code synchronized native}: run on a virtual
 * thread, every call would pin its carrier, and this machine has two, so one long read (stats over
 * thousands of groups) would stall every stream and health check. Callers hand their query to these
 * threads and wait for the answer (a virtual thread waiting here unmounts). The queue of waiting
 * queries is bounded, and every wait has a deadline: past it the caller gets UNAVAILABLE. WAL readers
 * never block the writer.
 */
final class ReadPool implements AutoCloseable {
    /** Most queries waiting for a read thread; further readers are refused as overloaded. */
    static final int MAX_WAITING = 4096;
    /** Longest a reader waits for its answer. */
    static final long DEADLINE_SECONDS = 60;

    /** A query run on a borrowed connection. */
    interface Query<T> {
        T run(ReadConnection c) throws SQLException;
    }

    private final BlockingQueue<ReadConnection> idle;
    private final List<ReadConnection> all = new ArrayList<>();   // guarded by itself
    private final Supplier<Connection> open;
    private final ThreadPoolExecutor threads;
    private volatile boolean closed;

    ReadPool(int size, Supplier<Connection> open) throws SQLException {
        this.open = open;
        idle = new ArrayBlockingQueue<>(size);
        for (int i = 0; i < size; i++) {
            var c = new ReadConnection(open.get());
            all.add(c);
            idle.add(c);
        }
        threads = new ThreadPoolExecutor(size, size, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(MAX_WAITING),
                Thread.ofPlatform().name("sluice-read-", 0).daemon().factory());
        threads.prestartAllCoreThreads();   // all there from the start: the thread count never moves with load
    }

    /** Runs {@code query} on a read thread and answers its result; {@code doing} names it in failures. */
    <T> T query(String doing, Query<T> query) {
        if (closed) {
            throw new SluiceException.Unavailable("the broker is shutting down");
        }
        Future<T> answer;
        try {
            answer = threads.submit(() -> run(doing, query));
        } catch (RejectedExecutionException e) {
            throw new SluiceException.Unavailable(closed ? "the broker is shutting down"
                    : "too many reads waiting (" + MAX_WAITING + ") while " + doing + "; try again");
        }
        try {
            return answer.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new SluiceException.StorageFailure("reading failed while " + doing + ": " + e.getCause(),
                    e.getCause());
        } catch (TimeoutException e) {
            answer.cancel(false);
            throw new SluiceException.Unavailable(doing + " took longer than " + DEADLINE_SECONDS + " s");
        } catch (CancellationException e) {
            throw new SluiceException.Unavailable("the broker is shutting down");
        } catch (InterruptedException e) {
            answer.cancel(false);
            Thread.currentThread().interrupt();
            throw new SluiceException.Unavailable("interrupted while " + doing);
        }
    }

    /** On a read thread: there are as many connections as threads, so one is always idle. */
    private <T> T run(String doing, Query<T> query) {
        ReadConnection c = idle.poll();
        if (c == null) {
            throw new IllegalStateException("no idle read connection for a read thread");
        }
        try {
            return query.run(c);
        } catch (SQLException e) {
            // sqlite-jdbc finalizes a statement whose step failed (damage, I/O error): this
            // connection's prepared statements are dead, so it is replaced by a fresh one.
            c = replace(c);
            throw StorageErrors.map(e, doing);
        } finally {
            idle.add(c);
        }
    }

    private ReadConnection replace(ReadConnection broken) {
        broken.closeQuietly();
        var fresh = new ReadConnection(open.get());
        synchronized (all) {
            all.set(all.indexOf(broken), fresh);
        }
        return fresh;
    }

    /** Lets the queries already taken finish (bounded), then closes every connection. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        if (closed) {
            return;
        }
        closed = true;
        threads.shutdown();
        if (!threads.awaitTermination(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
            threads.shutdownNow();
        }
        synchronized (all) {
            all.forEach(ReadConnection::closeQuietly);
        }
    }
}
