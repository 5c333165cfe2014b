package io.sluice.server.security;

import java.util.concurrent.atomic.AtomicInteger;

/** Counts open streams of one kind against a limit. Thread-safe, lock-free. */
final class StreamCount {
    private final int limit;
    private final AtomicInteger open = new AtomicInteger();

    StreamCount(int limit) {
        this.limit = limit;
    }

    /** Takes a place, or answers false when {@link #limit} are open. */
    boolean tryOpen() {
        while (true) {
            int n = open.get();
            if (n >= limit) {
                return false;
            }
            if (open.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    void closed() {
        open.decrementAndGet();
    }

    int limit() {
        return limit;
    }

    int open() {
        return open.get();
    }
}
