package io.sluice.server.security;

import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Stream;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionAdapter;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The HTTP/2 streams of one ready connection, kept within bounds whatever the client does with them.
 *
 * <p>The limit of concurrent streams is applied at once rather than when the client acknowledges the
 * broker's SETTINGS (when HTTP/2 would apply it): a client that never acknowledges would otherwise
 * open streams without limit.
 *
 * <p>A stream the broker has answered in full (status sent) while the client has not ended its side
 * stays open on the connection, holding its call's state, until the client ends it; gRPC does not
 * reset it. A client that never ends its requests (headers of calls refused at once, or ended for
 * sending nothing) would pile them up, so once a second such streams are reset (RST_STREAM NO_ERROR,
 * which HTTP/2 allows after a complete response).
 *
 * <p>The broker's streams, on all connections, are bounded too ({@code open} against {@code limit}):
 * each connection counts its streams in and out, and while the broker is at the limit a connection
 * takes no new stream beyond those it has (at least one), so HTTP/2 refuses more (RST_STREAM
 * REFUSED_STREAM) before gRPC makes a call of them. Runs on the connection's transport thread.
 */
final class Streams {
    private Streams() {
    }

    /** Streams open on the broker, across its connections, against their limit. */
    record Budget(AtomicInteger open, int limit) {
        Budget(int limit) {
            this(new AtomicInteger(), limit);
        }
    }

    static void watch(Channel channel, Http2ConnectionHandler http2, int maxStreams, Budget budget,
                      long sweepNanos) {
        var remote = http2.connection().remote();
        remote.maxActiveStreams(maxStreams);
        http2.connection().addListener(new Http2ConnectionAdapter() {
            private int mine;

            @Override
            public void onStreamActive(Http2Stream stream) {
                if ((stream.id() & 1) == 1) {   // a client's stream (odd ids)
                    mine++;
                    if (budget.open().incrementAndGet() >= budget.limit()) {
                        remote.maxActiveStreams(Math.max(1, remote.numActiveStreams()));
                    }
                }
            }

            @Override
            public void onStreamClosed(Http2Stream stream) {
                if (mine > 0 && (stream.id() & 1) == 1) {
                    mine--;
                    if (budget.open().decrementAndGet() < budget.limit()) {
                        remote.maxActiveStreams(maxStreams);
                    }
                }
            }
        });
        ChannelHandlerContext ctx = channel.pipeline().context(http2);   // its place: resets go out from there
        var sweep = channel.eventLoop().scheduleAtFixedRate(() -> {
            resetAnswered(ctx, http2);
            if (budget.open().get() < budget.limit()) {
                remote.maxActiveStreams(maxStreams);   // room again, made by other connections' streams too
            }
        }, sweepNanos, sweepNanos, TimeUnit.NANOSECONDS);
        channel.closeFuture().addListener(f -> sweep.cancel(false));
    }

    private static void resetAnswered(ChannelHandlerContext ctx, Http2ConnectionHandler http2) {
        var answered = new ArrayList<Http2Stream>();
        try {
            http2.connection().forEachActiveStream(stream -> {
                if (stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                    answered.add(stream);
                }
                return true;
            });
        } catch (io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception e) {
            return;   // a visitor that does not throw: nothing to do
        }
        for (Http2Stream stream : answered) {
            http2.resetStream(ctx, stream.id(), Http2Error.NO_ERROR.code(), ctx.newPromise());
        }
        if (!answered.isEmpty()) {
            ctx.flush();
        }
    }
}
