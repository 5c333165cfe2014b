package io.sluice.delivery;

/**
 * What the transport holds of an open subscription stream: it hands over the consumer's commands,
 * wakes the stream when the transport can take more, and ends it. All three only change state and
 * signal the stream's own thread; {@link #receive} may block while the writer's queue is full.
 */
public interface SubscriptionHandle {

    /** Handles one command of the consumer after init (on the call's inbound thread). */
    void receive(Command command) throws InterruptedException;

    /** The transport can take more, or something else changed. */
    void wake();

    /** Ends the stream for {@code reason} (the first reason wins) and wakes its thread. */
    void end(End reason);

    /** The call is over in the transport (its status sent, or the stream reset): nothing of it is held there. */
    void transportClosed();
}
