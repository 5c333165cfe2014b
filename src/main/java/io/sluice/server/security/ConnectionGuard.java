package io.sluice.server.security;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.ServerTransportFilter;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelFactory;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.ScheduledFuture;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds connections: at most {@code max} open at once (one more is closed as it is accepted, and the
 * refusals are logged at most once per ten seconds), and a connection that has not completed TLS and
 * the HTTP/2 preface within the handshake timeout is closed. A handler on the listening channel sees
 * each accepted connection first (on the accepting thread); each connection carries a deadline
 * handler until gRPC reports it ready through {@link #readiness()} (on its transport thread).
 */
final class ConnectionGuard {
    private static final System.Logger LOG = System.getLogger(ConnectionGuard.class.getName());
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final int max;
    private final long handshakeNanos;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);
    private final ConcurrentHashMap<SocketAddress, Deadline> handshaking = new ConcurrentHashMap<>();

    ConnectionGuard(int max, Duration handshakeTimeout) {
        this.max = max;
        this.handshakeNanos = handshakeTimeout.toNanos();
    }

    /** Makes listening channels of {@code type} that pass each accepted connection through this guard. */
    ChannelFactory<ServerChannel> channels(Class<? extends ServerChannel> type) {
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
                open.decrementAndGet();
                child.unsafe().closeForcibly();
                refusedOne();
                return;
            }
            child.closeFuture().addListener(f -> open.decrementAndGet());
            child.pipeline().addFirst("sluice-handshake-deadline", new Deadline());
            ctx.fireChannelRead(msg);
        }

        private void refusedOne() {
            long n = refused.incrementAndGet();
            long now = System.nanoTime();
            long last = lastLogged.get();
            if (now - last >= LOG_EVERY_NANOS && lastLogged.compareAndSet(last, now)) {
                refused.addAndGet(-n);
                LOG.log(Level.WARNING, n + " connection(s) refused: " + max
                        + " are open, the limit (--max-connections)");
            }
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

        /** Called from any thread once the connection is ready. */
        void met() {
            ctx.executor().execute(() -> {
                if (timer != null) {
                    timer.cancel(false);
                }
                if (ctx.pipeline().context(this) != null) {
                    ctx.pipeline().remove(this);
                }
            });
        }
    }
}
