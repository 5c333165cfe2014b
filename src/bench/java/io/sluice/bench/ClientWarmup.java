package io.sluice.bench;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Makes this JVM's gRPC client warm before the first broker starts, so a broker's start-up figures
 * (time to its first served RPC) do not include the load generator's own class loading: one health
 * check against a throwaway in-process server on loopback. The channel stays open (idle) until
 * {@link #close()}, which keeps grpc's shared client event loops alive between brokers.
 */
final class ClientWarmup implements AutoCloseable {
    private final ManagedChannel channel;

    private ClientWarmup(ManagedChannel channel) {
        this.channel = channel;
    }

    static ClientWarmup run() {
        Server server = null;
        ManagedChannel channel = null;
        try {
            var health = new HealthStatusManager();
            server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                    .directExecutor()
                    .addService(health.getHealthService())
                    .build()
                    .start();
            channel = ManagedChannelBuilder.forAddress(BrokerProcess.HOST, server.getPort()).usePlaintext()
                    .directExecutor().build();
            for (int i = 0; i < 3; i++) {
                HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .check(HealthCheckRequest.getDefaultInstance());
            }
        } catch (IOException | StatusRuntimeException e) {
            System.err.println("[bench] client warm-up failed (start-up figures include client class loading): " + e);
        } finally {
            if (server != null) {
                server.shutdownNow();
            }
        }
        return new ClientWarmup(channel);
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.shutdownNow();
        }
    }
}
