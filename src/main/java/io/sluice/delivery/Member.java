package io.sluice.delivery;

/** A stream as {@link Delivery} keeps it in its registries: exclusive, browsing or shared. */
interface Member extends SubscriptionHandle {
    SubscriptionSpec spec();

    /** Messages up to {@code lastSequence} were committed in the topic (writer thread; only signals). */
    void committed(long lastSequence);

    /** True when messages wait for this stream but it has no credit. */
    boolean starved();

    /** The stream's thread, once started. */
    Thread thread();
}
