package io.sluice.client;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.sluice.proto.SluiceGrpc;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
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
        try {
            return rpc.get();
        } catch (StatusRuntimeException e) {
            throw failure(e);
        }
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
