package io.sluice.server;

import io.sluice.store.Store;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * The storage being opened while the broker's start goes on with the rest: on a platform thread of its
 * own (blocking JDBC never runs on a virtual thread's carrier). Its failure is thrown where the store
 * is awaited, as it was thrown.
 */
final class StoreOpening {
    private final CompletableFuture<Store> result = new CompletableFuture<>();

    private StoreOpening() {
    }

    static StoreOpening start(Supplier<Store> open) {
        var opening = new StoreOpening();
        Thread.ofPlatform().name("sluice-store-open").start(() -> {
            try {
                opening.result.complete(open.get());
            } catch (Throwable t) {
                opening.result.completeExceptionally(t);
            }
        });
        return opening;
    }

    /** The opened store, once it is. */
    Store await() {
        try {
            return result.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw e;
        }
    }

    /** A start that failed before it took the store: the store once opened, to be closed (null: none). */
    static Store abandon(StoreOpening opening) {
        if (opening == null) {
            return null;
        }
        try {
            return opening.result.join();
        } catch (CompletionException e) {
            return null;   // it failed to open: nothing to close
        }
    }
}
