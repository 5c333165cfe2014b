package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.store.CommitHook;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The test side of the {@link CommitHook} seam: a plan of what the next commits do. A planned
 * hold keeps the writer thread inside the hook (before its commit) until released, so writes queued
 * meanwhile form the next batch; a planned failure throws the SQLite error a failed write or fsync
 * would. Commits with nothing planned go through untouched.
 */
public final class CommitFaults implements CommitHook {
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final ConcurrentLinkedQueue<Object> plan = new ConcurrentLinkedQueue<>();
    private final List<Integer> failedBatches = new CopyOnWriteArrayList<>();

    /** A commit held before it happens. */
    public static final class Hold {
        private final CountDownLatch held = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);

        public void awaitHeld() throws InterruptedException {
            assertTrue(held.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the writer reached the held commit");
        }

        public void release() {
            released.countDown();
        }
    }

    private record Failure(SQLiteErrorCode code) {
    }

    private record Fatal(Error error) {
    }

    /** The next commit waits (on the writer thread) until the hold is released, then goes through. */
    public Hold holdNext() {
        var hold = new Hold();
        plan.add(hold);
        return hold;
    }

    /** The next commit fails with {@code code} as SQLite would report it. */
    public void failNext(SQLiteErrorCode code) {
        plan.add(new Failure(code));
    }

    /** The next commit throws {@code error} on the writer thread, as running out of heap there would. */
    public void throwNext(Error error) {
        plan.add(new Fatal(error));
    }

    /** The sizes (writes) of the batches failed so far, in order. */
    public List<Integer> failedBatches() {
        return List.copyOf(failedBatches);
    }

    @Override
    public void beforeCommit(int writes) throws SQLException {
        Object next = plan.poll();
        if (next instanceof Hold hold) {
            hold.held.countDown();
            try {
                if (!hold.released.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("a held commit was never released");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else if (next instanceof Fatal fatal) {
            failedBatches.add(writes);
            throw fatal.error();
        } else if (next instanceof Failure failure) {
            failedBatches.add(writes);
            throw new SQLiteException("injected by the test before commit: " + failure.code().message,
                    failure.code());
        }
    }
}
