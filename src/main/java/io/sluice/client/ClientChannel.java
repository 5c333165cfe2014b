package io.sluice.client;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A {@link SluiceClient}'s gRPC channel and the one network thread it runs on, {@code sluice-client-io}
 * (a daemon), which belongs to this client alone. Its publishes are sent from that thread in batches
 * ({@link Pipeline}), its streams' callbacks run there, and {@link #stopThread()} ends it, so that a
 * JVM exiting after the client closed does not wait for a shared network thread blocked in the kernel
 * (gRPC's own stay a second after the last channel closes; the JVM waits up to 300 ms for them).
 * Epoll where Netty's native transport loads, else NIO (the command line turns the native one off).
 */
final class ClientChannel {
    /** Largest message accepted from the broker: room for the biggest payloads it can be configured for. */
    private static final int MAX_INBOUND_BYTES = 64 << 20;

    final ManagedChannel channel;
    /** The network thread, as an executor: tasks given to it run on the thread the channel reads on. */
    final EventExecutor io;
    private final EventLoopGroup group;

    ClientChannel(Target target, ChannelCredentials credentials) {
        boolean epoll = Epoll.isAvailable();
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("sluice-client-io", true),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        this.io = group.next();
        this.channel = NettyChannelBuilder.forAddress(target.host(), target.port(), credentials)
                .eventLoopGroup(group).channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .maxInboundMessageSize(MAX_INBOUND_BYTES)
                // Finds a dead connection under an idle stream; the broker permits pings every 10 s.
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                // Nothing here relies on gRPC's retries, and its retry layer keeps every request of a stream
                // for a replay: a cost per message that only shows under load.
                .disableRetry()
                .build();
    }

    /** Ends the network thread (after the channel has shut down), waiting up to 5 s. */
    void stopThread() {
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
