package io.sluice.delivery;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.Store;
import java.lang.System.Logger.Level;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A stream's AckSyncs: each is answered once everything the stream queued to the writer before it (its
 * settles) is committed. Only the latest answered id is kept: the writer commits in order, so it covers
 * the earlier. Guarded by the stream's lock; the stream's loop sends the answer.
 */
final class AckSyncs {
    private static final System.Logger LOG = System.getLogger(StreamLoop.class.getName());

    private final ReentrantLock lock;
    private final Condition changed;
    private long syncedId;       // guarded by lock: the last AckSync applied
    private boolean syncedDue;   // guarded by lock: syncedId is still to be sent

    AckSyncs(ReentrantLock lock, Condition changed) {
        this.lock = lock;
        this.changed = changed;
    }

    /** Inbound thread: asks the writer for a barrier after the stream's writes; blocks while its queue is full. */
    void sync(Store store, String topic, long syncId) throws InterruptedException {
        store.barrier(new Completion<>() {
            @Override
            public void committed(Void result) {
                lock.lock();
                try {
                    syncedId = syncId;
                    syncedDue = true;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, "sync " + Long.toUnsignedString(syncId) + " on " + topic
                        + " is not answered: the writes before it failed (" + error.getMessage() + ")");
            }
        });
    }

    /** Under the lock: an answer is due. */
    boolean due() {
        return syncedDue;
    }

    /** The id to answer now, which is then no longer due. */
    long take() {
        lock.lock();
        try {
            syncedDue = false;
            return syncedId;
        } finally {
            lock.unlock();
        }
    }
}
