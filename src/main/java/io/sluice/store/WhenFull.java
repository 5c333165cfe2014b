package io.sluice.store;

/**
 * How a write is admitted when the backend's queue of writes waiting to commit is full. The
 * backend bounds that queue; the caller says what it can afford while it is full.
 */
public enum WhenFull {
    /** Wait for room (the caller's thread may block; never a transport thread). */
    WAIT,
    /** Take it only if there is room now; {@link Store#append} answers false, having queued nothing, if not. */
    DECLINE,
    /**
     * Take it now, past the bound: for callers that bound what they have outstanding themselves (a
     * PublishStream's window, one delivery mark in flight per group). Never blocks.
     */
    ACCEPT
}
