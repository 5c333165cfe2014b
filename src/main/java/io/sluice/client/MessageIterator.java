package io.sluice.client;

import io.grpc.Status;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Supplier;

/**
 * A {@link Subscription}'s messages as an iterator: {@code hasNext()} blocks like
 * {@link Subscription#receive()} and answers false once the subscription is closed; it throws the
 * failure that ended it, and a {@link SluiceClientException} with status CANCELLED (the interrupt
 * flag set again) when interrupted.
 */
final class MessageIterator implements Iterator<Message> {
    /** The next inbound item, {@link Inbox#END} once ended. */
    interface Source {
        Inbox.Inbound take() throws InterruptedException;
    }

    private final Source source;
    private final Supplier<SluiceClientException> failure;
    private final String target;
    private Message next;

    MessageIterator(Source source, Supplier<SluiceClientException> failure, String target) {
        this.source = source;
        this.failure = failure;
        this.target = target;
    }

    @Override
    public boolean hasNext() {
        if (next != null) {
            return true;
        }
        Inbox.Inbound in;
        try {
            in = source.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw SluiceClientException.of(Status.CANCELLED.withDescription("interrupted while waiting for a message"),
                    null, target);
        }
        if (in == Inbox.END) {
            SluiceClientException ended = failure.get();
            if (ended != null) {
                throw ended;
            }
            return false;
        }
        next = in.message();
        return true;
    }

    @Override
    public Message next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the subscription is closed");
        }
        Message m = next;
        next = null;
        return m;
    }
}
