package io.sluice.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.sluice.server.security.StreamResets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Resets a call's HTTP/2 stream from the broker's side. A call the broker ends while its client reads
 * nothing cannot end: its status waits in the transport behind the messages sent before it, holding
 * them there for as long as the connection lives, and gRPC offers no way to reset it. The connection's
 * watcher names each Subscribe call's stream in its headers ({@link StreamResets}); this interceptor
 * puts that stream's reset in the call's context, for {@link #resetLater}.
 */
final class CallResets implements ServerInterceptor {
    private static final Metadata.Key<String> REF =
            Metadata.Key.of(StreamResets.HEADER, Metadata.ASCII_STRING_MARSHALLER);
    private static final Context.Key<Runnable> RESET = Context.key("sluice-stream-reset");
    /** How long an ended call's status may wait behind what its client has not read before it is reset. */
    static final long GRACE_SECONDS = 5;
    private static final Executor LATER = CompletableFuture.delayedExecutor(GRACE_SECONDS, TimeUnit.SECONDS);

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                                                        ServerCallHandler<Q, A> next) {
        Runnable reset = StreamResets.of(headers.get(REF));
        if (reset == null) {
            return next.startCall(call, headers);
        }
        return Contexts.interceptCall(Context.current().withValue(RESET, reset), call, headers, next);
    }

    /**
     * A task that resets the current call's stream {@link #GRACE_SECONDS} after it runs unless {@code closed}
     * says the call is over by then; one that does nothing when the call's stream cannot be reset.
     */
    static Runnable resetLater(BooleanSupplier closed) {
        Runnable reset = RESET.get();
        if (reset == null) {
            return () -> { };
        }
        return () -> LATER.execute(() -> {
            if (!closed.getAsBoolean()) {
                reset.run();
            }
        });
    }
}
