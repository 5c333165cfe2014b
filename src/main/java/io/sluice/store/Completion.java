package io.sluice.store;

import io.sluice.domain.SluiceException;

/**
 * What the writer calls once the transaction holding an operation has committed, or failed.
 * Both run on the writer thread, after the commit returns: implementations only hand the result
 * on (complete a latch, enqueue a response) and never block.
 */
public interface Completion<T> {
    void committed(T result);

    void failed(SluiceException error);

    /** A completion nobody waits on: for a write done inside another, whose outcome is the other's. */
    static <T> Completion<T> none() {
        return new Completion<>() {
            @Override
            public void committed(T result) {
            }

            @Override
            public void failed(SluiceException error) {
            }
        };
    }
}
