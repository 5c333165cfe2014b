package io.sluice.store;

/** Figures of each commit, for telemetry. Called on the writer thread after the commit; must not block. */
public interface CommitObserver {
    void committed(int operations, int messages, long commitNanos);
}
