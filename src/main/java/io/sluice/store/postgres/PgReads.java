package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads on a small fixed pool of platform threads ({@code sluice-pg-read-N}), each with its own
 * connection: JDBC blocks in socket reads, and a virtual thread blocked there would pin its
 * carrier. Callers (often virtual threads) hand their query over and wait for the answer, with a
 * deadline; the queue of waiting queries is bounded. A connection found lost is dropped; when it
 * had served earlier queries (it sat idle through a restart or failover of the database), the query
 * runs once more on a new connection, so no read fails once the database answers again.
 */
final class PgReads implements AutoCloseable {
    static final int MAX_WAITING = 4096;
    static final long DEADLINE_SECONDS = 60;

    /** A query run on the read thread's connection. */
    interface Query<T> {
        T run(Connection c) throws SQLException;
    }

    private final PgConnector connector;
    private final ThreadPoolExecutor threads;
    private final ThreadLocal<Connection> connections = new ThreadLocal<>();
    private final java.util.Set<Connection> all = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    PgReads(int size, PgConnector connector) {
        this.connector = connector;
        threads = new ThreadPoolExecutor(size, size, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(MAX_WAITING),
                Thread.ofPlatform().name("sluice-pg-read-", 0).daemon().factory());
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
            answer.cancel(true);
            throw new SluiceException.Unavailable(doing + " took longer than " + DEADLINE_SECONDS + " s");
        } catch (CancellationException e) {
            throw new SluiceException.Unavailable("the broker is shutting down");
        } catch (InterruptedException e) {
            answer.cancel(false);
            Thread.currentThread().interrupt();
            throw new SluiceException.Unavailable("interrupted while " + doing);
        }
    }

    private <T> T run(String doing, Query<T> query) {
        Connection c = connections.get();
        boolean reused = c != null;
        try {
            if (c == null) {
                c = connector.open(true);
                connections.set(c);
                all.add(c);
            }
            return query.run(c);
        } catch (SQLException e) {
            if (c != null && (PgErrors.connectionLost(e) || isClosed(c))) {
                connections.remove();
                all.remove(c);
                PgConnector.closeQuietly(c);
                if (reused) {
                    return run(doing, query);   // on a new connection: fails as it should if the database is down
                }
            }
            throw PgErrors.map(e, doing);
        }
    }

    private static boolean isClosed(Connection c) {
        try {
            return c.isClosed();
        } catch (SQLException e) {
            return true;
        }
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
        all.forEach(PgConnector::closeQuietly);
        all.clear();
    }
}
