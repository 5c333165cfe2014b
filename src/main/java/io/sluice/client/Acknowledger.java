package io.sluice.client;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The acknowledging side of a {@link Subscription}: acks (held back for a batch, see {@link PendingAcks}),
 * nack, inProgress and term, each sent on the subscription's current stream after the acks made
 * before it, and, at close, the wait until the broker shows the last ack committed.
 *
 * <p>Threads: application threads ack, nack, mark in progress and term; the subscription's connection
 * thread attaches each new stream, detaches an ended one and sends held acks every
 * {@link Subscription#ACK_DELAY}; any thread closes. The current stream and the closing flag are
 * written under the subscription's lock, shared with it since its connection loop reads both (a
 * receiver reads the current stream without it, to grant credit); none of the sends blocks.
 */
final class Acknowledger {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());
    /** How long a close waits for the broker to confirm the acks sent. */
    private static final Duration ACK_CONFIRM_WAIT = Duration.ofSeconds(2);

    private final ReentrantLock lock;
    private final SubscriptionOptions options;
    private final PendingAcks acks;   // guarded by lock
    private volatile Stream current;  // written under lock; read without it by receivers (see current())
    private boolean closing;          // guarded by lock
    private final boolean shared;

    /** {@code lock} is the subscription's; {@code shared}: a SHARED group, where an ack settles exactly its message. */
    Acknowledger(ReentrantLock lock, SubscriptionOptions options, boolean shared) {
        this.lock = lock;
        this.options = options;
        this.shared = shared;
        // Cumulative acks: one per half window (the broker commits each); a shared group's settle each message.
        this.acks = new PendingAcks(options.creditWindow() / (shared ? 4 : 2), shared);
    }

    // ---- application threads ----

    /** See {@link Subscription#ack}. */
    void ack(Message message) {
        requireGroup("acknowledge");
        lock.lock();
        try {
            if (closing) {
                throw closed();
            }
            if (acks.add(message)) {
                acks.sendOn(current);
            }
        } finally {
            lock.unlock();
        }
    }

    /** See {@link Subscription#nack}. */
    void nack(Message message, Duration delay) {
        Objects.requireNonNull(delay, "delay (Duration.ZERO for at once)");
        requireGroup("nack");
        onCurrent(s -> s.nack(message.id(), Math.max(0, delay.toMillis())));
    }

    /** See {@link Subscription#inProgress}. */
    void inProgress(Message message) {
        requireGroup("extend the lease of");
        onCurrent(s -> s.inProgress(message.id()));
    }

    /** See {@link Subscription#term}. */
    void term(Message message, String reason) {
        requireGroup("terminate");
        onCurrent(s -> s.term(message.id(), reason == null ? "" : reason));
    }

    /** A browse reads without a group: nothing it receives can be settled. */
    private void requireGroup(String what) {
        if (options.browse()) {
            throw new IllegalStateException("a browse subscription has no consumer group: it cannot " + what
                    + " a message");
        }
    }

    /** Sends on the current stream, after the acks made before (nothing while reconnecting). */
    private void onCurrent(Predicate<Stream> send) {
        lock.lock();
        try {
            if (closing) {
                throw closed();
            }
            if (current != null) {
                acks.sendOn(current);   // acks made before reach the broker before it
                send.test(current);
            }
        } finally {
            lock.unlock();
        }
    }

    private IllegalStateException closed() {
        return new IllegalStateException("the subscription to " + options.topic() + " is closed");
    }

    // ---- the connection thread ----

    /** Sends the acks held back for a batch now. */
    void flush() {
        lock.lock();
        try {
            acks.sendOn(current);
        } finally {
            lock.unlock();
        }
    }

    /** Holding the lock: acks go on {@code s} from now; sends those made while there was no stream. */
    void attach(Stream s) {
        current = s;
        acks.sendOn(s);
    }

    /** Forgets {@code s} once it ended; acks made from now wait for the next stream. */
    void detach(Stream s) {
        lock.lock();
        try {
            if (current == s) {
                current = null;
            }
        } finally {
            lock.unlock();
        }
    }

    /** The stream acks go on, or null while there is none; no lock needed (a receiver asks per message). */
    Stream current() {
        return current;
    }

    /** Holding the lock: true once the subscription is closing. */
    boolean closing() {
        return closing;
    }

    // ---- closing ----

    /**
     * Holding the lock: marks the subscription closing and sends the acks held back; answers the
     * current stream (null if none), which the caller cancels after {@link #confirm()}.
     */
    Stream beginClose() {
        closing = true;
        acks.sendOn(current);
        if (acks.unsent() != null) {
            LOG.log(Level.WARNING, "closing the subscription to " + options.topic() + " before its ack of "
                    + acks.unsent().sequence() + " reached the broker: later messages will come again");
        }
        return current;
    }

    /**
     * Waits (up to 2 s) until the broker has applied the acks sent, since a cancel could otherwise
     * overtake them: until it answers an AckSync sent on {@code stream} (the stream of {@link
     * #beginClose}, may be null), which it does once the acks that came before it are committed. An
     * exclusive group's stream that sent no ack, and a browsing one, do not ask. Not holding the lock.
     */
    void confirm(Stream stream) {
        if (stream == null || options.browse()) {
            return;
        }
        if (!shared) {
            lock.lock();
            try {
                if (acks.lastSent() < 0) {
                    return;
                }
            } finally {
                lock.unlock();
            }
        }
        if (stream.sync() && !stream.awaitSynced(ACK_CONFIRM_WAIT.toNanos())) {
            LOG.log(Level.WARNING, "the broker did not confirm the acks on " + options.topic() + " group "
                    + options.group() + " within " + ACK_CONFIRM_WAIT.toSeconds() + " s; those not stored come "
                    + (shared ? "again after their lease" : "again to the group's next stream"));
        }
    }
}
