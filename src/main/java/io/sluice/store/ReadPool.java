package io.sluice.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A small fixed set of read-only connections. A reader borrows one for a short indexed query and
 * gives it back; borrowing blocks while all are busy (the queue is the gate). WAL readers never
 * block the writer. Never await anything while holding a connection.
 */
final class ReadPool implements AutoCloseable {

    /** A query run on a borrowed connection. */
    interface Query<T> {
        T run(ReadConnection c) throws SQLException;
    }

    private final BlockingQueue<ReadConnection> idle;
    private final List<ReadConnection> all = new ArrayList<>();   // guarded by itself
    private final Supplier<Connection> open;
    private volatile boolean closed;

    ReadPool(int size, Supplier<Connection> open) throws SQLException {
        this.open = open;
        idle = new ArrayBlockingQueue<>(size);
        for (int i = 0; i < size; i++) {
            var c = new ReadConnection(open.get());
            all.add(c);
            idle.add(c);
        }
    }

    <T> T query(String doing, Query<T> query) {
        if (closed) {
            throw new SluiceException.Unavailable("the broker is shutting down");
        }
        ReadConnection c = borrow(doing);
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

    private ReadConnection borrow(String doing) {
        try {
            while (true) {
                ReadConnection c = idle.poll(100, TimeUnit.MILLISECONDS);
                if (c != null) {
                    return c;
                }
                if (closed) {
                    throw new SluiceException.Unavailable("the broker is shutting down");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SluiceException.Unavailable("interrupted while waiting to read (" + doing + ")");
        }
    }

    /** Closes every connection, waiting for borrowed ones to come back. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = 0; i < all.size(); i++) {
            idle.take().closeQuietly();
        }
    }
}
