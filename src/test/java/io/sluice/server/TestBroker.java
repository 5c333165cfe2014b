package io.sluice.server;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
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
    private static volatile UnaryOperator<ServerConfig> backend = UnaryOperator.identity();
    private static volatile boolean twoBrokers;

    /** Gives each call without a deadline of its own 30 s from its start (a stub's deadline is fixed when it is made). */
    private static final ClientInterceptor CALL_DEADLINE = new ClientInterceptor() {
        @Override
        public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
            return next.newCall(method, options.getDeadline() != null ? options
                    : options.withDeadlineAfter(30, TimeUnit.SECONDS));
        }
    };

    private final Path dataDir;
    private final UnaryOperator<ServerConfig> adjust;
    private final SecurityConfig security;
    private final boolean paired;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private SluiceServer server;
    private SluiceServer peer;   // paired: a second broker on the same database, sharing the channels

    private TestBroker(Path dataDir, UnaryOperator<ServerConfig> adjust, SecurityConfig security) {
        this.dataDir = dataDir;
        UnaryOperator<ServerConfig> storage = backend;
        this.adjust = c -> adjust.apply(storage.apply(c));
        this.paired = twoBrokers;
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

    /**
     * Where the brokers started from now on keep their data: {@code storage} changes the test defaults'
     * configuration before a test's own changes ({@link UnaryOperator#identity()}, the default, is SQLite in
     * the data directory). A broker keeps the storage it started with across restarts. Tests run one at a
     * time in a JVM; see {@code io.sluice.store.postgres.OnPostgres}.
     */
    public static void useStorage(UnaryOperator<ServerConfig> storage) {
        useStorage(storage, false);
    }

    /**
     * Like {@link #useStorage(UnaryOperator)}; with {@code paired}, each test broker is two brokers on that
     * one database (it must be shared: PostgreSQL), and its channels go to one and the other in turn, so a
     * test's calls and streams are spread over both. {@link #server()} is the first.
     */
    public static void useStorage(UnaryOperator<ServerConfig> storage, boolean paired) {
        backend = storage;
        twoBrokers = paired;
    }

    private void start() {
        start(0);
    }

    private void start(int port) {
        server = SluiceServer.start(config(dataDir, port), security);
        if (paired) {
            peer = SluiceServer.start(config(dataDir.resolve("peer"), 0), security);
        }
    }

    private ServerConfig config(Path dir, int port) {
        return adjust.apply(ServerConfig.defaults(dir).withHost("127.0.0.1").withPorts(port, 0)
                .withHeartbeat(Duration.ofSeconds(1)));
    }

    /** Stops the broker (both, paired) as a shutdown would; the channels stay open. */
    public void stop() {
        server.close();
        if (peer != null) {
            peer.close();
        }
    }

    /** Stops the server (channels stay open) and starts it again on the same data, on a new port. */
    public void restart() {
        stop();
        start();
    }

    /** Stops the server and starts it again on the same data and the same port, as an operator would. */
    public void restartOnSamePort() {
        restartOnSamePort(() -> { });
    }

    /** As {@link #restartOnSamePort()}, running {@code whileDown} between the stop and the start. */
    public void restartOnSamePort(Runnable whileDown) {
        int port = server.port();
        stop();
        whileDown.run();
        start(port);
    }

    public SluiceServer server() {
        return server;
    }

    /** The running broker, or both when paired. */
    public List<SluiceServer> servers() {
        return peer == null ? List.of(server) : List.of(server, peer);
    }

    public int port() {
        return server.port();
    }

    public Path dataDir() {
        return dataDir;
    }

    /** A new channel to the broker, closed with it. */
    public ManagedChannel channel() {
        SluiceServer to = peer != null && channels.size() % 2 == 1 ? peer : server;
        ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", to.port())
                .usePlaintext()
                .directExecutor()   // test callbacks only enqueue; no client thread pool to count
                .maxInboundMessageSize(64 << 20)
                .build();
        channels.add(c);
        return c;
    }

    /** A blocking stub on a new channel with a deadline of 30 s per call. */
    public SluiceGrpc.SluiceBlockingStub blocking() {
        return SluiceGrpc.newBlockingStub(channel()).withInterceptors(CALL_DEADLINE);
    }

    /** An async stub on a new channel. */
    public SluiceGrpc.SluiceStub async() {
        return SluiceGrpc.newStub(channel());
    }

    /** Waits until exactly {@code expected} Subscribe streams are open on the broker. */
    public void awaitStreams(int expected) {
        io.sluice.Await.until("the broker has " + expected + " open streams",
                () -> activeStreams() == expected, () -> "(" + activeStreams() + " open)");
    }

    /** The Subscribe streams open on the broker (on both, paired). */
    public int activeStreams() {
        return server.delivery().activeStreams() + (peer == null ? 0 : peer.delivery().activeStreams());
    }

    @Override
    public void close() throws InterruptedException {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        stop();
    }
}
