package io.sluice.server.security;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.ServerTransportFilter;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelFactory;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.grpc.netty.shaded.io.netty.util.concurrent.ScheduledFuture;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds connections: at most {@code max} open at once, and a connection that has not completed TLS
 * and the HTTP/2 preface within the handshake timeout is closed. One more connection at the limit
 * takes the place of the oldest one that has no call open (a client that opened connections and
 * does nothing with them cannot keep others out; a client with no call in progress just connects
 * again when it next needs to); when every connection has a call, it is closed as it is accepted.
 * Refusals and such closes are logged at most once per ten seconds. A handler on the listening channel sees
 * each accepted connection first (on the accepting thread); each connection carries a deadline
 * handler until gRPC reports it ready through {@link #readiness()} (on its transport thread).
 */
final class ConnectionGuard {
    private static final System.Logger LOG = System.getLogger(ConnectionGuard.class.getName());
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static final long SWEEP_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final int max;
    private final long handshakeNanos;
    private final int maxStreams;
    private final Streams.Budget streams;
    private volatile long maxRequestBytes = Integer.MAX_VALUE;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);
    private final ConcurrentHashMap<SocketAddress, Deadline> handshaking = new ConcurrentHashMap<>();
    private final LinkedHashSet<Channel> byAge = new LinkedHashSet<>();   // guarded by itself: open, oldest first

    ConnectionGuard(int max, Duration handshakeTimeout, int maxStreams, int maxAllStreams) {
        this.max = max;
        this.handshakeNanos = handshakeTimeout.toNanos();
        this.maxStreams = maxStreams;
        this.streams = new Streams.Budget(maxAllStreams);
    }

    /**
     * Makes listening channels of {@code type} that pass each accepted connection through this guard;
     * their requests over {@code maxRequestBytes} are replaced by a marker ({@link Oversize}).
     */
    ChannelFactory<ServerChannel> channels(Class<? extends ServerChannel> type, int maxRequestBytes) {
        this.maxRequestBytes = maxRequestBytes;
        return () -> {
            ServerChannel channel;
            try {
                channel = type.getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot make a " + type.getSimpleName(), e);
            }
            channel.pipeline().addLast("sluice-connection-guard", new Acceptor());
            return channel;
        };
    }

    /** Marks a connection ready once gRPC has read its HTTP/2 preface and first SETTINGS. */
    ServerTransportFilter readiness() {
        return new ServerTransportFilter() {
            @Override
            public Attributes transportReady(Attributes attributes) {
                SocketAddress remote = attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
                Deadline d = remote == null ? null : handshaking.remove(remote);
                if (d != null) {
                    d.met();
                }
                return attributes;
            }
        };
    }

    int open() {
        return open.get();
    }

    /** On the listening channel: counts, refuses past the limit, arms the handshake deadline. */
    private final class Acceptor extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel child = (Channel) msg;
            if (open.incrementAndGet() > max) {
                Channel idle = oldestIdle();
                if (idle == null) {
                    open.decrementAndGet();
                    child.unsafe().closeForcibly();
                    refusedOne("refused");
                    return;
                }
                idle.close();   // counted out when it is closed; the count may be over by the closes under way
                refusedOne("closed, having no call open, to make room for new ones");
            }
            synchronized (byAge) {
                byAge.add(child);
            }
            child.closeFuture().addListener(f -> {
                open.decrementAndGet();
                synchronized (byAge) {
                    byAge.remove(child);
                }
            });
            child.pipeline().addFirst("sluice-handshake-deadline", new Deadline());
            child.pipeline().addFirst("sluice-stream-limit", new StreamLimit());
            ctx.fireChannelRead(msg);
        }

        /** The oldest connection with no HTTP/2 stream open, taken out of the candidates; null when none. */
        private Channel oldestIdle() {
            synchronized (byAge) {
                for (var it = byAge.iterator(); it.hasNext(); ) {
                    Channel c = it.next();
                    Http2ConnectionHandler http2 = c.pipeline().get(Http2ConnectionHandler.class);
                    if (http2 == null || http2.connection().numActiveStreams() == 0) {
                        it.remove();
                        return c;
                    }
                }
                return null;
            }
        }

        private void refusedOne(String what) {
            long n = refused.incrementAndGet();
            long now = System.nanoTime();
            long last = lastLogged.get();
            if (now - last >= LOG_EVERY_NANOS && lastLogged.compareAndSet(last, now)) {
                refused.addAndGet(-n);
                LOG.log(Level.WARNING, n + " connection(s) " + what + ": " + max
                        + " are open, the limit (--max-connections)");
            }
        }
    }

    /**
     * First on each new connection, seeing its bytes before HTTP/2 decodes them: once gRPC's HTTP/2
     * handler is in place, puts its streams under {@link Streams} before the read that carries the
     * client's first frames is decoded, then steps aside.
     */
    private final class StreamLimit extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Http2ConnectionHandler http2 = ctx.pipeline().get(Http2ConnectionHandler.class);
            if (http2 != null) {
                Streams.watch(ctx.channel(), http2, maxStreams, streams, SWEEP_NANOS, maxRequestBytes);
                ctx.pipeline().remove(this);
            }
            ctx.fireChannelRead(msg);
        }
    }

    /** On each new connection until it is ready: closes it when its handshake takes too long. */
    private final class Deadline extends ChannelInboundHandlerAdapter {
        private ChannelHandlerContext ctx;
        private ScheduledFuture<?> timer;
        private SocketAddress remote;

        @Override
        public void handlerAdded(ChannelHandlerContext context) {
            ctx = context;
            if (ctx.channel().isActive()) {
                arm();
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext context) throws Exception {
            arm();
            super.channelActive(context);
        }

        private void arm() {
            if (timer != null) {
                return;
            }
            remote = ctx.channel().remoteAddress();
            if (remote != null) {
                handshaking.put(remote, this);
            }
            timer = ctx.executor().schedule(this::expired, handshakeNanos, TimeUnit.NANOSECONDS);
            ctx.channel().closeFuture().addListener(f -> {
                timer.cancel(false);
                if (remote != null) {
                    handshaking.remove(remote, this);
                }
            });
        }

        private void expired() {
            LOG.log(Level.DEBUG, () -> "closing " + remote + ": no TLS and HTTP/2 handshake within "
                    + TimeUnit.NANOSECONDS.toMillis(handshakeNanos) + " ms (--handshake-timeout)");
            ctx.close();
        }

        /** Called once the connection is ready (on its transport thread: at once, before its next frame). */
        void met() {
            if (ctx.executor().inEventLoop()) {
                ready();
            } else {
                ctx.executor().execute(this::ready);
            }
        }

        private void ready() {
            if (timer != null) {
                timer.cancel(false);
            }
            if (ctx.pipeline().context(this) != null) {
                ctx.pipeline().remove(this);
            }
        }
    }
}
