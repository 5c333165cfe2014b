package io.sluice.server;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.security.SecurityConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A real broker for tests: the real server on an ephemeral port with its database in a temporary
 * directory, reached through real gRPC channels. Close it in {@code @AfterEach}.
 */
public final class TestBroker implements AutoCloseable {
    private final Path dataDir;
    private final UnaryOperator<ServerConfig> adjust;
    private final SecurityConfig security;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private SluiceServer server;

    private TestBroker(Path dataDir, UnaryOperator<ServerConfig> adjust, SecurityConfig security) {
        this.dataDir = dataDir;
        this.adjust = adjust;
        this.security = security;
        start();
    }

    /** A broker on a free port, metrics off, data in {@code dataDir}. */
    public static TestBroker start(Path dataDir) {
        return new TestBroker(dataDir, c -> c, SecurityConfig.none());
    }

    /** A broker whose configuration {@code adjust} changes from the test defaults. */
    public static TestBroker start(Path dataDir, UnaryOperator<ServerConfig> adjust) {
        return new TestBroker(dataDir, adjust, SecurityConfig.none());
    }

    /** A broker protected as {@code security} says (TLS, auth file, limits); its channels here are plaintext. */
    public static TestBroker start(Path dataDir, SecurityConfig security) {
        return new TestBroker(dataDir, c -> c, security);
    }

    private void start() {
        start(0);
    }

    private void start(int port) {
        ServerConfig config = ServerConfig.defaults(dataDir).withHost("127.0.0.1").withPorts(port, 0)
                .withHeartbeat(Duration.ofSeconds(1));
        server = SluiceServer.start(adjust.apply(config), security);
    }

    /** Stops the server (channels stay open) and starts it again on the same data, on a new port. */
    public void restart() {
        server.close();
        start();
    }

    /** Stops the server and starts it again on the same data and the same port, as an operator would. */
    public void restartOnSamePort() {
        int port = server.port();
        server.close();
        start(port);
    }

    public SluiceServer server() {
        return server;
    }

    public int port() {
        return server.port();
    }

    public Path dataDir() {
        return dataDir;
    }

    /** A new channel to the broker, closed with it. */
    public ManagedChannel channel() {
        ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", server.port())
                .usePlaintext()
                .directExecutor()   // test callbacks only enqueue; no client thread pool to count
                .maxInboundMessageSize(64 << 20)
                .build();
        channels.add(c);
        return c;
    }

    /** A blocking stub on a new channel with a deadline of 30 s per call. */
    public SluiceGrpc.SluiceBlockingStub blocking() {
        return SluiceGrpc.newBlockingStub(channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** An async stub on a new channel. */
    public SluiceGrpc.SluiceStub async() {
        return SluiceGrpc.newStub(channel());
    }

    /** Waits until exactly {@code expected} Subscribe streams are open on the broker. */
    public void awaitStreams(int expected) {
        io.sluice.Await.until("the broker has " + expected + " open streams",
                () -> server.delivery().activeStreams() == expected,
                () -> "(" + server.delivery().activeStreams() + " open)");
    }

    @Override
    public void close() throws InterruptedException {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        server.close();
    }
}
