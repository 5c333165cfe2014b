package io.sluice.delivery;

import io.sluice.domain.MessageIds;
import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.Settled;
import io.sluice.store.Store;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The inbound protocol of one stream of a SHARED group: credit, and the settle commands (Ack and
 * BatchAck settle exactly the messages named, Nack gives one back, InProgress restarts its lease,
 * Term terminates it), each resolved to sequences and handed to the store, which applies it only
 * when this stream still holds the lease. Acks the store ignored because another stream holds the
 * message now (or its lease expired) are counted, and logged once per stream. Runs on the call's
 * inbound thread, one message at a time; a command may block while the writer's queue is full.
 */
final class SharedInbound {
    private static final System.Logger LOG = System.getLogger(SharedSubscription.class.getName());
    private static final Warnings UNKNOWN = new Warnings(LOG, "settles of unknown message ids");

    private final SharedSubscription subscription;
    private final SubscriptionSpec spec;
    private final Store store;
    private final Delivery owner;
    private final AtomicLong ignored = new AtomicLong();
    private final AtomicBoolean loggedIgnored = new AtomicBoolean();

    SharedInbound(SharedSubscription subscription, SubscriptionSpec spec, Store store, Delivery owner) {
        this.subscription = subscription;
        this.spec = spec;
        this.store = store;
        this.owner = owner;
    }

    void receive(Command command) throws InterruptedException {
        if (subscription.ended()) {
            return;
        }
        switch (command) {
            case Command.Grant g -> subscription.grant(g.credits());
            case Command.Sync s -> subscription.sync(s.id());
            case Command.Ack a -> ack(a.messageIds());
            case Command.Nack n -> nack(n.messageId(), n.delayMs());
            case Command.InProgress p -> {
                OptionalLong seq = resolve(p.messageId(), "in_progress");
                if (seq.isPresent()) {
                    store.extend(spec.topic(), spec.group(), subscription.holder, seq.getAsLong(),
                            heldOrIgnored(() -> { }));
                }
            }
            case Command.Term t -> {
                OptionalLong seq = resolve(t.messageId(), "term");
                if (seq.isPresent()) {
                    subscription.settled(List.of(seq.getAsLong()));
                    owner.terminate(spec, subscription.holder, Store.NO_CLAIM, seq.getAsLong(), t.reason(),
                            () -> ignore(1), error -> { });   // the lease still held: the client may send it again
                }
            }
        }
    }

    private void ack(List<String> ids) throws InterruptedException {
        var sequences = new ArrayList<Long>(ids.size());
        for (String id : ids) {
            resolve(id, "ack").ifPresent(sequences::add);
        }
        if (sequences.isEmpty()) {
            return;
        }
        subscription.settled(sequences);
        store.settle(spec.topic(), spec.group(), subscription.holder, sequences, new Completion<>() {
            @Override
            public void committed(Settled result) {
                if (result.settled() > 0) {
                    owner.metrics().acked(spec.topic(), spec.group(), result.settled());
                    owner.groupChanged(spec, true);
                }
                if (result.notHeld() > 0) {
                    ignore(result.notHeld());
                }
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, "acks on " + spec.topic() + " group " + spec.group() + " were not stored: "
                        + error.getMessage() + "; the messages are delivered again after their lease");
            }
        });
    }

    private void nack(String messageId, int delayMs) throws InterruptedException {
        long delay = Integer.toUnsignedLong(delayMs);
        if (delay > Inbound.MAX_NACK_DELAY_MS) {
            subscription.end(End.invalid("nack redelivery_delay_ms " + delay + " exceeds the maximum of "
                    + Inbound.MAX_NACK_DELAY_MS + " ms (one hour)"));
            return;
        }
        OptionalLong seq = resolve(messageId, "nack");
        if (seq.isEmpty()) {
            return;
        }
        subscription.settled(List.of(seq.getAsLong()));
        store.release(spec.topic(), spec.group(), subscription.holder, seq.getAsLong(), delay,
                heldOrIgnored(() -> owner.metrics().nacked(spec.topic(), spec.group())));
    }

    /**
     * A completion that, when the stream still held the message, runs {@code ifHeld} and wakes the
     * group, else counts the command as ignored.
     */
    private Completion<Boolean> heldOrIgnored(Runnable ifHeld) {
        return new Completion<>() {
            @Override
            public void committed(Boolean held) {
                if (held) {
                    ifHeld.run();
                    owner.groupChanged(spec, false);
                } else {
                    ignore(1);
                }
            }

            @Override
            public void failed(SluiceException error) {
                LOG.log(Level.WARNING, "a settle on " + spec.topic() + " group " + spec.group() + " was not stored: "
                        + error.getMessage());
            }
        };
    }

    /** Commands about messages this stream no longer holds: counted, logged once per stream. */
    private void ignore(int n) {
        ignored.addAndGet(n);
        owner.metrics().ignoredAcks(spec.topic(), spec.group(), n);
        if (loggedIgnored.compareAndSet(false, true)) {
            LOG.log(Level.WARNING, "stream " + subscription.holder + " of shared group " + spec.group() + " on "
                    + spec.topic() + " settled a message it no longer holds (its lease expired or moved to another "
                    + "stream): ignored; further ones on this stream are only counted (sluice_acks_ignored_total)");
        }
    }

    /** The sequence of a message id of this topic: checked against what this stream sent, else the store's index. */
    private OptionalLong resolve(String messageId, String what) {
        UUID id = MessageIds.parse(messageId);
        OptionalLong seq = MessageIds.sequenceOf(id);
        if (seq.isPresent()) {
            UUID known = subscription.inFlightId(seq.getAsLong());
            if (known != null && known.equals(id)) {
                return seq;
            }
            seq = store.resolve(spec.topic(), messageId);
        }
        if (seq.isEmpty()) {
            UNKNOWN.warn(what + " for unknown message id '" + Inbound.printable(messageId) + "' on topic "
                    + spec.topic() + " group " + spec.group() + " ignored");
        }
        return seq;
    }
}
