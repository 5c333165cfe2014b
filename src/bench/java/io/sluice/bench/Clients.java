package io.sluice.bench;

import io.grpc.ManagedChannel;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import io.sluice.proto.SluiceGrpc;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A few client channels (one TCP connection each) to the broker. Every channel runs its callbacks on
 * its transport's event loop ({@code directExecutor()}): a hop to another thread per message would cap
 * the client near the rates it is meant to measure (PERFORMANCE.md). Callbacks must therefore never
 * block. Calls are spread over the channels by the caller's index; subscribers get a connection of
 * their own, as a consuming application would have. grpc's retry layer is off: it keeps every request
 * for a replay the load generator never asks for, and it was 10-20% of the client's CPU in the unary
 * runs, CPU the broker on the same two cores then lacked (docs/bench.md).
 */
final class Clients implements AutoCloseable {
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<SluiceGrpc.SluiceStub> stubs = new ArrayList<>();
    private final SluiceGrpc.SluiceStub subscriber;

    /** TLS trusting {@code ca}, with {@code token} as a bearer token on every call. */
    record Tls(Path ca, String token) {
    }

    Clients(String host, int port, int count) {
        this(host, port, count, null);
    }

    /** {@code tls} null: plaintext. */
    Clients(String host, int port, int count, Tls tls) {
        for (int i = 0; i < count; i++) {
            stubs.add(SluiceGrpc.newStub(open(host, port, tls)));
        }
        subscriber = SluiceGrpc.newStub(open(host, port, tls));
    }

    /**
     * Plaintext channels spread over several brokers: channel {@code i} (so {@link #stub} {@code i}) goes
     * to {@code ports[i % ports.size()]}; the subscribers' channel to the first.
     */
    Clients(String host, List<Integer> ports, int count) {
        for (int i = 0; i < count; i++) {
            stubs.add(SluiceGrpc.newStub(open(host, ports.get(i % ports.size()), null)));
        }
        subscriber = SluiceGrpc.newStub(open(host, ports.getFirst(), null));
    }

    private ManagedChannel open(String host, int port, Tls tls) {
        ManagedChannel channel = channel(host, port, tls);
        channels.add(channel);
        return channel;
    }

    /** One channel as the load generator uses them: plaintext when {@code tls} is null. */
    static ManagedChannel channel(String host, int port, Tls tls) {
        ManagedChannelBuilder<?> builder;
        if (tls == null) {
            builder = ManagedChannelBuilder.forAddress(host, port).usePlaintext();
        } else {
            ChannelCredentials credentials;
            try {
                credentials = TlsChannelCredentials.newBuilder().trustManager(tls.ca().toFile()).build();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + tls.ca(), e);
            }
            var headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + tls.token());
            builder = Grpc.newChannelBuilderForAddress(host, port, credentials)
                    .intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return builder.directExecutor()
                .maxInboundMessageSize(64 << 20)
                .disableRetry()
                .build();
    }

    /** The async stub of the subscribers' own channel. */
    SluiceGrpc.SluiceStub subscriberStub() {
        return subscriber;
    }

    /** The async stub of channel {@code index % count}. */
    SluiceGrpc.SluiceStub stub(int index) {
        return stubs.get(Math.floorMod(index, stubs.size()));
    }

    int count() {
        return stubs.size();
    }

    /** Cancels whatever is still in flight and closes the connections. */
    @Override
    public void close() {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
            try {
                c.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
