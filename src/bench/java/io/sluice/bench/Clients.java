package io.sluice.bench;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
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

    Clients(String host, int port, int count) {
        for (int i = 0; i < count; i++) {
            stubs.add(SluiceGrpc.newStub(open(host, port)));
        }
        subscriber = SluiceGrpc.newStub(open(host, port));
    }

    private ManagedChannel open(String host, int port) {
        ManagedChannel channel = ManagedChannelBuilder.forAddress(host, port)
                .usePlaintext()
                .directExecutor()
                .maxInboundMessageSize(64 << 20)
                .disableRetry()
                .build();
        channels.add(channel);
        return channel;
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
