package io.sluice.delivery;

import io.sluice.domain.SluiceException;

import io.sluice.domain.MessageIds;
import io.sluice.store.Store;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The inbound protocol of one Subscribe stream after its init: credit grants, acks and nacks, each
 * resolved to sequences (from the ids in flight, else through the store's index) and
 * handed to the {@link Subscription} as state changes. Runs on the call's inbound thread, one
 * message at a time; the lock is held while a message is handled, so a takeover that stops taking
 * them sees every ack already handed on. A stream being taken over is ended at once but still takes
 * the acks and Terms the server received before the takeover ({@link #handOver}), until the takeover
 * stops it.
 */
final class Inbound {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());
    /** Longest redelivery delay a Nack may ask for: one hour. */
    static final long MAX_NACK_DELAY_MS = 3_600_000;

    private static final Warnings UNKNOWN_ACKS = new Warnings(LOG, "acks for unknown message ids");
    private static final Warnings REFUSED_NACKS = new Warnings(LOG, "nacks that were not applied");
    private static final Warnings BROWSE_ACKS = new Warnings(LOG, "acks on BROWSE streams");
    private static final Warnings STALE_ACKS = new Warnings(LOG, "acks of deliveries made before a cursor reset");
    private static final Warnings REFUSED_TERMS = new Warnings(LOG, "terms that were not applied");

    private final Subscription subscription;
    private final SubscriptionSpec spec;
    private final Store store;
    private final Delivery owner;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean taking = true;   // guarded by lock
    private boolean handingOver;     // guarded by lock: ended by a takeover, settles still taken

    Inbound(Subscription subscription, SubscriptionSpec spec, Store store, Delivery owner) {
        this.subscription = subscription;
        this.spec = spec;
        this.store = store;
        this.owner = owner;
    }

    /** Handles one command; ignored once the stream ended or was taken over. */
    void receive(Command command) throws InterruptedException {
        lock.lock();
        try {
            if (!taking || (subscription.ended() && !(handingOver && settles(command)))) {
                return;
            }
            switch (command) {
                case Command.Grant g -> subscription.grant(g.credits());
                case Command.Ack a -> ack(a.messageIds());
                case Command.Nack n -> nack(n.messageId(), n.delayMs());
                case Command.Term t -> term(t.messageId(), t.reason());
                case Command.Sync s -> subscription.sync(s.id());
                case Command.InProgress p -> BROWSE_ACKS.warn("in_progress on a " + (spec.browse() ? "BROWSE"
                        : "CONSUMER_GROUP") + " stream of " + spec.topic() + " ignored: only SHARED groups lease");
            }
        } finally {
            lock.unlock();
        }
    }

    /** Acks and Terms: what a newer stream of the group must see applied before it opens. */
    private static boolean settles(Command command) {
        return command instanceof Command.Ack || command instanceof Command.Term;
    }

    /** A takeover begins: acks and Terms are still taken after the stream ends, until {@link #stopTaking}. */
    void handOver() {
        lock.lock();
        try {
            handingOver = true;
        } finally {
            lock.unlock();
        }
    }

    /** Takes no more messages, after the one being handled (a takeover: its acks are queued before the new open). */
    void stopTaking() {
        lock.lock();
        try {
            taking = false;
        } finally {
            lock.unlock();
        }
    }

    /** A cumulative ack: the group's cursor moves to the highest of the ids, through the writer's group commit. */
    private void ack(List<String> ids) throws InterruptedException {
        if (spec.browse()) {
            BROWSE_ACKS.warn("ack on a BROWSE stream of " + spec.topic() + " ignored: browsing never moves a cursor");
            return;
        }
        long highest = -1;
        for (String messageId : ids) {
            OptionalLong seq = resolve(messageId);
            if (seq.isEmpty()) {
                UNKNOWN_ACKS.warn("ack for unknown message id '" + printable(messageId) + "' on topic "
                        + spec.topic() + " group " + spec.group() + " ignored");
                continue;
            }
            highest = Math.max(highest, seq.getAsLong());
        }
        int settled = highest < 0 ? 0 : subscription.ackedUpTo(highest);
        if (settled < 0) {
            STALE_ACKS.warn("ack of message " + highest + " on topic " + spec.topic() + " group " + spec.group()
                    + " ignored: it was delivered before the group's cursor was reset, and the replay has not "
                    + "delivered it again");
            owner.metrics().ignoredAcks(spec.topic(), spec.group(), 1);
            return;
        }
        if (settled == 0) {
            return;   // nothing known, or a duplicate or older ack: the cursor is already past it
        }
        owner.ack(spec, subscription.claim(), highest, this::notStored);
        owner.metrics().acked(spec.topic(), spec.group(), settled);
    }

    /**
     * Schedules the message for redelivery on this stream after the delay. Only a message this
     * stream delivered and that is not acknowledged can be nacked; it is pending at most once (a
     * later nack replaces the earlier), and at most {@link Subscription#MAX_REDELIVERIES} are pending.
     */
    private void nack(String messageId, int delayMs) {
        long delay = Integer.toUnsignedLong(delayMs);
        if (delay > MAX_NACK_DELAY_MS) {
            subscription.end(End.invalid("nack redelivery_delay_ms " + delay
                    + " exceeds the maximum of " + MAX_NACK_DELAY_MS + " ms (one hour)"));
            return;
        }
        OptionalLong seq = resolve(messageId);
        if (seq.isEmpty()) {
            REFUSED_NACKS.warn("nack for unknown message id '" + printable(messageId) + "' on topic "
                    + spec.topic() + " ignored");
            return;
        }
        String refused = subscription.redeliverLater(seq.getAsLong(), TimeUnit.MILLISECONDS.toNanos(delay));
        if (refused != null) {
            REFUSED_NACKS.warn("nack of message " + seq.getAsLong() + " on topic " + spec.topic() + " ignored: "
                    + refused);
            return;
        }
        owner.metrics().nacked(spec.topic(), spec.group());
    }

    /**
     * Terminates a delivered, unacknowledged message: the store moves it to the group's dead-letter
     * topic (or only settles it) and it is never delivered to the group again.
     */
    private void term(String messageId, String reason) throws InterruptedException {
        if (spec.browse()) {
            BROWSE_ACKS.warn("term on a BROWSE stream of " + spec.topic() + " ignored: browsing settles nothing");
            return;
        }
        OptionalLong seq = resolve(messageId);
        if (seq.isEmpty()) {
            UNKNOWN_ACKS.warn("term for unknown message id '" + printable(messageId) + "' on topic "
                    + spec.topic() + " group " + spec.group() + " ignored");
            return;
        }
        long sequence = seq.getAsLong();
        if (!subscription.terminated(sequence)) {
            STALE_ACKS.warn("term of message " + sequence + " on topic " + spec.topic() + " group " + spec.group()
                    + " ignored: it was delivered before the group's cursor was reset, and the replay has not "
                    + "delivered it again");
            owner.metrics().ignoredAcks(spec.topic(), spec.group(), 1);
            return;
        }
        owner.terminate(spec, null, subscription.claim(), sequence, reason, () -> REFUSED_TERMS.warn("term of message "
                + sequence + " on topic " + spec.topic() + " group " + spec.group() + " ignored: the group has no "
                + "such delivered, unacknowledged message (acknowledged already, or not delivered yet)"),
                this::notStored);
    }

    /**
     * An ack or Term of this stream failed in the store (the database unreachable, the disk full): the
     * stream counts it as done, so acks sent again would be taken as duplicates and an AckSync after them
     * answered. The stream ends instead; its client subscribes again and the group resumes after its
     * stored cursor, delivering again what the lost ack covered (at least once).
     */
    private void notStored(SluiceException error) {
        if (error instanceof SluiceException.TakenOver) {
            return;   // a newer stream holds the group: this one ends as taken over
        }
        subscription.end(End.failed(new SluiceException.Unavailable("an ack or term of this stream was not "
                + "stored (" + error.getMessage() + "); subscribe again: the group resumes after its stored "
                + "cursor")));
    }

    /** The sequence of a message id of this topic: from the ids in flight, else from the store. */
    private OptionalLong resolve(String messageId) {
        UUID id = MessageIds.parse(messageId);   // parsed once: the sequence and the comparison
        OptionalLong seq = MessageIds.sequenceOf(id);
        if (seq.isEmpty()) {
            return seq;
        }
        UUID known = subscription.inFlightId(seq.getAsLong());
        if (known != null && known.equals(id)) {
            return seq;
        }
        return store.resolve(spec.topic(), messageId);
    }

    static String printable(String s) {
        String cut = s.length() > 64 ? s.substring(0, 64) + "..." : s;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
