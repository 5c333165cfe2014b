package io.sluice.store;

/**
 * A test seam: runs on the backend's writing thread just before each commit, with the number of
 * writes the transaction holds, and may fail the commit by throwing (the backend then treats the
 * failure as it would its own storage error: everything in the transaction is rolled back and
 * answered with the mapped error). Production never sets one.
 */
@FunctionalInterface
public interface CommitHook {
    void beforeCommit(int writes) throws Exception;
}
