package io.sluice.store;

import io.sluice.domain.SluiceException;
import java.util.concurrent.CountDownLatch;

/** A completion a caller blocks on: {@link #await()} returns once the writer has committed or failed. */
public final class Pending<T> implements Completion<T> {
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile T result;
    private volatile SluiceException error;

    @Override
    public void committed(T value) {
        result = value;
        done.countDown();
    }

    @Override
    public void failed(SluiceException e) {
        error = e;
        done.countDown();
    }

    /** Blocks until the outcome is known; rethrows a failure on the caller's thread. */
    public T await() throws InterruptedException {
        done.await();
        if (error != null) {
            throw error;
        }
        return result;
    }
}
