package io.sluice.client;

import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import io.sluice.client.PublishCall.Pending;
import io.sluice.proto.PublishStreamResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiPredicate;

/**
 * How the publishes of a {@link Pipeline} end: each gives its {@link Window} slot back and has its
 * future completed through the {@link Completer}, with the answer, or with the failure as a
 * {@link SluiceClientException} that keeps the gRPC status and names the broker (the same exception a
 * unary publish throws for that status). Thread-safe: called from the I/O thread, the publishing
 * threads and the deadline sweep.
 */
final class Outcomes {
    private final Window window;
    private final Completer completer;
    private final EventExecutor ioThread;
    private final String target;
    /** Why the last stream never reached the broker, until one does; null while it answers. */
    private volatile Status unreached;

    Outcomes(Window window, Completer completer, EventExecutor ioThread, String target) {
        this.window = window;
        this.completer = completer;
        this.ioThread = ioThread;
        this.target = target;
    }

    /** A stored message (or, with a dedup id, the one stored before): gives the slot back, completes the future. */
    void stored(Pending p, PublishStreamResponse r) {
        p.duplicate = r.getDuplicate();
        stored(p, new Published(r.getMessageId(), r.getSequence(), r.getTimestamp()));
    }

    /** Like {@link #stored(Pending, PublishStreamResponse)}, {@link Pending#duplicate} set before. */
    void stored(Pending p, Published answer) {
        unreached = null;
        window.release(p.bytes);
        completer.complete(p, answer, ioThread.inEventLoop());
    }

    /** Fails a publish that holds a slot and gives the slot back. */
    void fail(Pending p, SluiceClientException e) {
        window.release(p.bytes);
        completer.fail(p, e, ioThread.inEventLoop());
    }

    /**
     * Ends the publishes a stream that ended with {@code status} left unanswered: past their deadline they
     * fail with DEADLINE_EXCEEDED; the ones that never left because the broker could not be reached
     * (refused, no route: it may be back soon) or because the stream was given up before it {@code reached}
     * one, and the ones {@code retrying} keeps, are answered (in order) to be sent again; the others fail
     * with the stream's status (a broker reached but not spoken to, e.g. TLS to a plaintext port, at
     * once), saying they may have been stored when they were sent on a stream that reached the broker
     * (this one or one before).
     */
    List<Pending> unanswered(Status status, boolean reached, List<Pending> unanswered, long now,
                             BiPredicate<Pending, Long> retrying) {
        boolean refused = neverConnected(status);
        boolean neverLeft = !reached || refused;
        if (refused) {
            unreached = status;
        }
        var again = new ArrayList<Pending>();
        for (Pending p : unanswered) {
            if (!neverLeft) {
                p.maybeStored = true;
            } else if (!p.maybeStored) {
                p.firstSentNanos = 0;   // as if still queued: it goes on the next stream, within its call timeout
            }
            if (p.expired(now)) {
                fail(p, timedOut(p));
            } else if (neverLeft && !p.maybeStored && (refused || status.getCode() == Status.Code.CANCELLED)
                    || retryable(status) && retrying.test(p, now)) {
                again.add(p);   // never sent while the broker was unreachable (or the stream was given up): sent now
            } else {
                fail(p, retryable(status) && p.maybeStored ? inDoubt(status) : failure(status));
            }
        }
        return again;
    }

    /**
     * A publish a stream took and ended without answering (it broke, or was given up for an answer
     * overdue): UNAVAILABLE, saying it may have been stored, whatever the broker's reconnects say since.
     */
    private SluiceClientException inDoubt(Status status) {
        return failure(Status.UNAVAILABLE.withDescription("the stream ended before the broker answered ("
                + SluiceClientException.detail(status, null) + "); the message may have been stored"));
    }

    /** True when the stream failed to connect at all (refused, unreachable, no address): what it took never left. */
    private static boolean neverConnected(Status status) {
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (t instanceof java.net.ConnectException || t instanceof java.net.NoRouteToHostException
                    || t instanceof java.net.UnknownHostException) {
                return true;
            }
        }
        return false;
    }

    /** A publish whose call timeout passed: sent before (then in doubt) or never sent. */
    SluiceClientException timedOut(Pending p) {
        Status why = unreached;
        return failure(Status.DEADLINE_EXCEEDED.withDescription(p.firstSentNanos != 0 || p.maybeStored
                ? "no answer within the call timeout; the message may have been stored"
                : "not sent within the call timeout" + (why == null ? ""
                        : ": " + SluiceClientException.detail(why, target))));
    }

    private static boolean retryable(Status status) {
        return status.getCode() == Status.Code.UNAVAILABLE || status.getCode() == Status.Code.CANCELLED;
    }

    /** Why a publish that was never sent failed: its deadline passed, or the client closed. */
    SluiceClientException late(Pending p) {
        return p.expired(System.nanoTime()) ? timedOut(p) : closed();
    }

    SluiceClientException failure(Status status) {
        return SluiceClientException.of(status, null, target);
    }

    SluiceClientException closed() {
        return failure(Status.UNAVAILABLE.withDescription("the client is closed"));
    }
}
