package io.sluice;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waiting in tests for a condition the test cannot be signalled about (a persisted value, a gauge, a
 * file): checked every few milliseconds until it holds, failing the test with {@code what} and the
 * last observed value once the deadline passes. Never a timing assertion: the deadline only keeps a
 * broken build from hanging.
 */
public final class Await {
    public static final Duration DEADLINE = Duration.ofSeconds(30);
    private static final long CHECK_EVERY_NANOS = 5_000_000;

    private Await() {
    }

    /** Waits until {@code condition} holds. */
    public static void until(String what, BooleanSupplier condition) {
        until(what, condition, () -> "");
    }

    /** Waits until {@code condition} holds; {@code observed} describes the state in the failure message. */
    public static void until(String what, BooleanSupplier condition, Supplier<?> observed) {
        until(what, Duration.ofNanos(CHECK_EVERY_NANOS), condition, observed);
    }

    /**
     * As {@link #until(String, BooleanSupplier, Supplier)}, checking every {@code every} (for a
     * condition that is costly to check, or that compares samples taken that far apart).
     */
    public static void until(String what, Duration every, BooleanSupplier condition, Supplier<?> observed) {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("not within " + DEADLINE.toSeconds() + " s: " + what + " " + observed.get());
            }
            LockSupport.parkNanos(every.toNanos());
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting: " + what);
            }
        }
    }
}
