package io.sluice.server;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The reason the broker cannot go on (its writer stopped), once known, and who is told: the process
 * that runs the broker stops it and exits non-zero, so a supervisor restarts it instead of leaving a
 * broker that answers every write with an error. Reported at most once; a handler registered after
 * the report hears it at once.
 */
final class Fatal {
    private final ReentrantLock lock = new ReentrantLock();
    private String reason;                 // guarded by lock
    private Consumer<String> handler;      // guarded by lock

    /** Records the reason and tells the handler (on the reporting thread); later reports are ignored. */
    void report(String why) {
        Consumer<String> h;
        lock.lock();
        try {
            if (reason != null) {
                return;
            }
            reason = why;
            h = handler;
        } finally {
            lock.unlock();
        }
        if (h != null) {
            h.accept(why);
        }
    }

    /** Registers who is told; told at once when the reason is already known. */
    void onReport(Consumer<String> h) {
        String known;
        lock.lock();
        try {
            handler = h;
            known = reason;
        } finally {
            lock.unlock();
        }
        if (known != null) {
            h.accept(known);
        }
    }

    /** The reason, or null while the broker can go on. */
    String reason() {
        lock.lock();
        try {
            return reason;
        } finally {
            lock.unlock();
        }
    }
}
