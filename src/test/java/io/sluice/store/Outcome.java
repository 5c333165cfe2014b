package io.sluice.store;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.domain.SluiceException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A completion a test waits on with a deadline, never forever. */
public final class Outcome<T> implements Completion<T> {
    public static final Duration WAIT = Duration.ofSeconds(30);

    private final CountDownLatch done = new CountDownLatch(1);
    private volatile T result;
    private volatile SluiceException failure;

    @Override
    public void committed(T value) {
        result = value;
        done.countDown();
    }

    @Override
    public void failed(SluiceException error) {
        failure = error;
        done.countDown();
    }

    /** True when the write was answered within {@code timeout}. */
    public boolean await(Duration timeout) {
        try {
            return done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** True once the write was answered, either way. */
    public boolean answered() {
        return done.getCount() == 0;
    }

    public T result() {
        return result;
    }

    public SluiceException failure() {
        return failure;
    }

    /** The committed result; fails the test when the write failed or was never answered. */
    public T value() {
        assertTrue(await(WAIT), "the write was answered within " + WAIT);
        if (failure != null) {
            throw new AssertionError("the write failed: " + failure, failure);
        }
        assertNotNull(result);
        return result;
    }

    /** The failure; fails the test when the write committed or was never answered. */
    public SluiceException error() {
        assertTrue(await(WAIT), "the write was answered within " + WAIT);
        assertNotNull(failure, "the write was expected to fail but committed: " + result);
        return failure;
    }
}
