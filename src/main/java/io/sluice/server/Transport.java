package io.sluice.server;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The server's own transport threads (epoll where the platform has it, NIO elsewhere), owned here
 * rather than by gRPC so a call can find the thread that reads and writes its connection: a
 * publish answered there, once its commit is known, is written without another thread hop.
 */
final class Transport implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Transport.class.getName());
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Class<? extends ServerChannel> channelType;
    /** Each thread's own loop, found once per thread rather than once per call (null off the loops). */
    private final ThreadLocal<Executor> own = ThreadLocal.withInitial(this::findOwn);

    private Transport(IoHandlerFactory io, Class<? extends ServerChannel> channelType) {
        this.boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("sluice-accept", true), io);
        this.workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("sluice-io", true), io);
        this.channelType = channelType;
    }

    static Transport create() {
        return Epoll.isAvailable()
                ? new Transport(EpollIoHandler.newFactory(), EpollServerSocketChannel.class)
                : new Transport(NioIoHandler.newFactory(), NioServerSocketChannel.class);
    }

    /** Puts the server's connections on these threads. */
    NettyServerBuilder configure(NettyServerBuilder builder) {
        return builder.bossEventLoopGroup(boss).workerEventLoopGroup(workers).channelType(channelType);
    }

    /** The class of the listening channel (the connection limits wrap it). */
    Class<? extends ServerChannel> channelType() {
        return channelType;
    }

    /**
     * The transport thread the caller runs on, as an executor (a call on a direct executor runs on
     * the thread of its connection); {@code elsewhere} when the caller is not a transport thread.
     */
    Executor current(Executor elsewhere) {
        Executor loop = own.get();
        return loop != null ? loop : elsewhere;
    }

    private Executor findOwn() {
        for (EventExecutor loop : workers) {
            if (loop.inEventLoop()) {
                return loop;
            }
        }
        return null;
    }

    /** Stops the threads and waits (up to 5 s) until they have; call once the server has terminated. */
    @Override
    public void close() {
        var bossDone = boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        var workersDone = workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        if (!bossDone.awaitUninterruptibly(5, TimeUnit.SECONDS) || !workersDone.awaitUninterruptibly(5, TimeUnit.SECONDS)) {
            LOG.log(System.Logger.Level.WARNING, "the transport's threads did not stop within 5 s");
        }
    }
}
