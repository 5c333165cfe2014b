package io.sluice.server.security;

import com.google.protobuf.MessageLite;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds what a client can make the broker hold with calls that do nothing. Every call, whatever it
 * sends, holds transport and call state (a kilobyte or two of heap): at most {@code maxCalls} are
 * open on the broker at once. HTTP/2 enforces that ({@link Streams}) while letting every connection
 * have one stream, so a client calling one at a time is served whatever others hold; one call a
 * connection over the limit ({@code connections}) is so counted in, and one over that is refused
 * RESOURCE_EXHAUSTED on its headers. A call
 * whose first request has not arrived within {@code firstRequest} of the broker asking for it ends
 * DEADLINE_EXCEEDED, so headers without a body hold neither a call's place, nor the publish budget a
 * unary publish reserved for its message, nor a Subscribe stream's slot, for longer than that. The
 * time counts from the asking: a publish waiting for room in the budget has not been asked yet.
 *
 * <p>A unary call's answer is held in the transport's (direct) memory until its client reads it, so
 * a client that reads nothing (an HTTP/2 window of zero) could pin large answers until the memory
 * ran out for everyone. Answers over {@value #LARGE} bytes count against {@link #ANSWERS} bytes from
 * when they are sent until their call is over; one that does not fit ends its call RESOURCE_EXHAUSTED
 * instead. Smaller answers always go. Runs before every other interceptor, for every service.
 */
final class CallGuard implements ServerInterceptor, AutoCloseable {
    static final int LARGE = 2 << 10;   // so the answers not counted, one a call, stay within 32 MiB at --max-calls
    static final long ANSWERS = 32L << 20;

    private final AtomicLong answers = new AtomicLong();   // bytes of large unary answers not yet taken
    private final int maxCalls;
    private final int hardLimit;
    private final Duration firstRequest;
    private final AtomicInteger open = new AtomicInteger();
    private final ScheduledThreadPoolExecutor timer;

    CallGuard(int maxCalls, int connections, Duration firstRequest) {
        this.maxCalls = maxCalls;
        this.hardLimit = (int) Math.min(Integer.MAX_VALUE, (long) maxCalls + connections);
        this.firstRequest = firstRequest;
        this.timer = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().name("sluice-call-guard").daemon()
                .factory());
        timer.setRemoveOnCancelPolicy(true);   // a call's timer is gone once its request arrives
    }

    /** Calls open now. */
    int open() {
        return open.get();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        if (open.incrementAndGet() > hardLimit) {
            open.decrementAndGet();
            call.close(Status.RESOURCE_EXHAUSTED.withDescription(maxCalls + " calls are open on the broker, its "
                    + "limit (--max-calls); retry later"), new Metadata());
            return new ServerCall.Listener<>() { };
        }
        var guarded = new Guarded<>(call);
        ServerCall.Listener<Q> inner;
        try {
            inner = next.startCall(guarded, headers);
        } catch (RuntimeException e) {
            guarded.finished();
            throw e;
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
            @Override
            public void onMessage(Q message) {
                if (guarded.arrived()) {
                    super.onMessage(message);
                }
            }

            @Override
            public void onHalfClose() {
                if (guarded.arrived()) {
                    super.onHalfClose();
                }
            }

            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    guarded.finished();
                }
            }

            @Override
            public void onComplete() {
                try {
                    super.onComplete();
                } finally {
                    guarded.finished();
                }
            }
        };
    }

    /**
     * One call. Until its first request arrives, what the handler does to the call and what the timer
     * does are serialised here (gRPC's calls are not thread-safe); once the timer ended it, the
     * handler's later answers go nowhere.
     */
    private final class Guarded<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
        private boolean asked;               // guarded by this
        private boolean arrived;             // guarded by this
        private boolean timedOut;            // guarded by this
        private boolean closed;              // guarded by this
        private ScheduledFuture<?> deadline;  // guarded by this
        private final AtomicInteger finished = new AtomicInteger();
        private final AtomicLong held = new AtomicLong();   // of the answers' bytes

        Guarded(ServerCall<Q, R> call) {
            super(call);
        }

        @Override
        public void request(int messages) {
            synchronized (this) {
                if (!asked && !closed) {
                    asked = true;
                    try {
                        deadline = timer.schedule(this::expire, firstRequest.toNanos(), TimeUnit.NANOSECONDS);
                    } catch (RejectedExecutionException e) {
                        // the broker is stopping: its shutdown ends the call
                    }
                }
            }
            super.request(messages);
        }

        /** A request (or the end of the requests) arrived: false when the call already ended for want of one. */
        synchronized boolean arrived() {
            if (!arrived) {
                arrived = true;
                if (deadline != null) {
                    deadline.cancel(false);
                }
            }
            return !timedOut;
        }

        private synchronized void expire() {
            if (arrived || closed) {
                return;
            }
            timedOut = true;
            closed = true;
            super.close(Status.DEADLINE_EXCEEDED.withDescription("no request arrived within "
                    + firstRequest.toMillis() + " ms of the call's start (--handshake-timeout)"), new Metadata());
        }

        @Override
        public synchronized void sendHeaders(Metadata headers) {
            if (!timedOut) {
                super.sendHeaders(headers);
            }
        }

        @Override
        public void sendMessage(R message) {
            synchronized (this) {
                if (timedOut) {
                    return;
                }
            }
            if (!holdAnswer(message)) {
                close(Status.RESOURCE_EXHAUSTED.withDescription("answers waiting for clients that do not read "
                        + "them hold " + (ANSWERS >> 20) + " MiB, the broker's limit; retry later"), new Metadata());
                return;
            }
            super.sendMessage(message);
        }

        /** Counts a large unary answer until the call is over; false when it does not fit. */
        private boolean holdAnswer(R message) {
            if (getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY
                    || !(message instanceof MessageLite m)) {
                return true;
            }
            int size = m.getSerializedSize();
            if (size <= LARGE) {
                return true;
            }
            if (answers.addAndGet(size) > ANSWERS) {
                answers.addAndGet(-size);
                return false;
            }
            held.addAndGet(size);
            return true;
        }

        @Override
        public void close(Status status, Metadata trailers) {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                if (deadline != null) {
                    deadline.cancel(false);
                }
            }
            super.close(status, trailers);
        }

        void finished() {
            if (finished.getAndIncrement() == 0) {
                open.decrementAndGet();
                answers.addAndGet(-held.getAndSet(0));
                synchronized (this) {
                    if (deadline != null) {
                        deadline.cancel(false);
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
