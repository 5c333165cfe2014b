package io.sluice.client;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.sluice.proto.SluiceGrpc;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * A {@link SluiceClient}'s unary calls: the blocking stub with the call timeout as each call's
 * deadline, and the mapping of a failed call to a {@link SluiceClientException}. Thread-safe.
 */
final class Calls {
    private final SluiceGrpc.SluiceBlockingStub blocking;
    private final ManagedChannel channel;
    private final String target;
    final Duration timeout;
    /** Longest a call waits for a failed channel's new attempt to connect (see {@link #reconnectIfFailed}). */
    static final Duration RECONNECT_WAIT = Duration.ofMillis(500);
    /** Counted down when a failed channel is connected again; null while none is awaited. */
    private final AtomicReference<CountDownLatch> reconnecting = new AtomicReference<>();

    Calls(ManagedChannel channel, String target, Duration timeout) {
        this.blocking = SluiceGrpc.newBlockingStub(channel);
        this.channel = channel;
        this.target = target;
        this.timeout = timeout;
    }

    /** The blocking stub with the call timeout as the deadline of the next call. */
    SluiceGrpc.SluiceBlockingStub stub() {
        return blocking.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** The blocking stub with {@code seconds} as the deadline of the next call. */
    SluiceGrpc.SluiceBlockingStub stub(long seconds) {
        return blocking.withDeadlineAfter(seconds, TimeUnit.SECONDS);
    }

    /** Runs one blocking call; its failure is thrown as a {@link SluiceClientException}. */
    <T> T call(Supplier<T> rpc) {
        reconnectIfFailed();
        try {
            return rpc.get();
        } catch (StatusRuntimeException e) {
            throw failure(e);
        }
    }

    /**
     * A channel whose last attempt to connect failed answers every call with that failure until it
     * tries again: it tries now, and the call waits up to {@link #RECONNECT_WAIT} for the connection,
     * so a broker that is back is reached, and one still down fails the call as before.
     */
    private void reconnectIfFailed() {
        if (channel.getState(false) != ConnectivityState.TRANSIENT_FAILURE) {
            return;
        }
        CountDownLatch ready = reconnecting.get();
        if (ready == null) {
            var mine = new CountDownLatch(1);
            if (reconnecting.compareAndSet(null, mine)) {
                watch(ConnectivityState.TRANSIENT_FAILURE, mine);   // one watch for all the calls meanwhile
                ready = mine;
            } else {
                ready = reconnecting.get();
            }
        }
        channel.resetConnectBackoff();
        try {
            if (ready != null) {
                ready.await(Math.min(RECONNECT_WAIT.toNanos(), timeout.toNanos()), TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Counts {@code ready} down once the channel is READY (or shut down), following each change of state. */
    private void watch(ConnectivityState from, CountDownLatch ready) {
        channel.notifyWhenStateChanged(from, () -> {
            ConnectivityState now = channel.getState(false);
            if (now == ConnectivityState.READY || now == ConnectivityState.SHUTDOWN) {
                reconnecting.compareAndSet(ready, null);
                ready.countDown();
            } else {
                watch(now, ready);
            }
        });
    }

    /** {@code t} as a {@link SluiceClientException} naming the broker. */
    SluiceClientException failure(Throwable t) {
        SluiceClientException e = SluiceClientException.of(t, target);
        if (e instanceof SluiceClientException.Unavailable) {
            // The channel would wait out its own backoff (up to minutes) before trying the broker again;
            // the caller decides when to retry, so the next call connects at once.
            channel.resetConnectBackoff();
        }
        return e;
    }
}
