package io.sluice.server.security;

import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameListener;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Stream;
import io.grpc.netty.shaded.io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Unary answers, and PublishStream answers, the client does not take. An answer waits in the transport
 * until the client's HTTP/2 window lets it go, holding its memory (and its share of {@link CallGuard}'s
 * budget for large answers, or a PublishStream's requests their share of the publish budget) until its
 * call ends, which for a client that reads nothing is never. A watched stream whose answer has waited
 * on its window, with no WINDOW_UPDATE from the client that would let it move, for {@link #STUCK_NANOS}
 * is reset (CANCEL): its call ends and gives back what it held.
 * A client that reads slowly sends window updates and is never reset; one whose connection window
 * (shared by its streams) is what holds the answer counts as moving when that window moves.
 * Runs on the connection's transport thread.
 */
final class UnreadAnswers extends Http2FrameListenerDecorator {
    static final long STUCK_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Http2ConnectionHandler http2;
    private final IntObjectHashMap<long[]> watched = new IntObjectHashMap<>();   // stream id: {since when stuck, or 0}

    UnreadAnswers(Http2FrameListener listener, Http2ConnectionHandler http2) {
        super(listener);
        this.http2 = http2;
    }

    /** A unary call's stream, or a PublishStream, to watch until it closes. */
    void watch(int streamId) {
        watched.put(streamId, new long[1]);
    }

    void closed(int streamId) {
        watched.remove(streamId);
    }

    @Override
    public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int increment) throws Http2Exception {
        if (streamId != 0) {
            long[] since = watched.get(streamId);
            if (since != null) {
                since[0] = 0;
            }
        } else if (!watched.isEmpty()) {
            Http2RemoteFlowController flow = http2.encoder().flowController();
            for (var e : watched.entries()) {
                Http2Stream stream = http2.connection().stream(e.key());
                if (stream != null && flow.windowSize(stream) > 0) {   // held by the connection's window only
                    e.value()[0] = 0;
                }
            }
        }
        super.onWindowUpdateRead(ctx, streamId, increment);
    }

    /** Notes the answers that wait on their window; resets the streams of those stuck too long. */
    void sweep(ChannelHandlerContext ctx, Streams.Bodiless resetter) {
        if (watched.isEmpty()) {
            return;
        }
        long now = System.nanoTime();
        Http2RemoteFlowController flow = http2.encoder().flowController();
        var stuck = new ArrayList<Integer>();
        for (var e : watched.entries()) {
            Http2Stream stream = http2.connection().stream(e.key());
            long[] since = e.value();
            if (stream == null || !flow.hasFlowControlled(stream)) {
                since[0] = 0;
            } else if (since[0] == 0) {
                since[0] = now;
            } else if (now - since[0] >= STUCK_NANOS) {
                stuck.add(e.key());
            }
        }
        for (int id : stuck) {
            watched.remove(id);
            resetter.reset(ctx, http2, id, Http2Error.CANCEL);
        }
        if (!stuck.isEmpty()) {
            ctx.flush();
        }
    }
}
