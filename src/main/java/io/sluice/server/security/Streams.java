package io.sluice.server.security;

import io.grpc.MethodDescriptor;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameListener;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Headers;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Stream;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import io.sluice.proto.SluiceGrpc;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The HTTP/2 streams of one ready connection, kept within bounds whatever the client does with them.
 *
 * <p>The limit of concurrent streams is applied at once rather than when the client acknowledges the
 * broker's SETTINGS (when HTTP/2 would apply it): a client that never acknowledges would otherwise
 * open streams without limit. A stream past it is reset (REFUSED_STREAM) as its headers arrive.
 *
 * <p>A stream the broker has answered in full (status sent) while the client has not ended its side
 * stays open on the connection, holding its call's state, until the client ends it; gRPC does not
 * reset it. A client that never ends its requests (headers of calls refused at once, or ended for
 * sending nothing) would pile them up, so once a second such streams are reset (RST_STREAM NO_ERROR,
 * which HTTP/2 allows after a complete response). A unary answer the client lets none of go for 10 s
 * is reset too, and so is a PublishStream whose answers the client lets none of go ({@link UnreadAnswers}),
 * and a request over the size limit is never buffered ({@link Oversize}). Each Subscribe call is told its
 * stream's reference ({@link StreamResets}), so the broker can reset a stream whose end cannot reach its client.
 *
 * <p>The broker's streams, on all connections, are bounded too ({@code open} against {@code limit}):
 * each connection counts its streams in and out, and while the broker is over the limit a new stream
 * is refused the same way, unless it is its connection's only one, before gRPC makes a call of it.
 * Runs on the connection's transport thread.
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

    /** Numbers each connection, for the references to its streams ({@link StreamResets}). */
    private static final AtomicLong CONNECTIONS = new AtomicLong();

    static void watch(Channel channel, Http2ConnectionHandler http2, int maxStreams, Budget budget,
                      long sweepNanos, long maxRequestBytes) {
        var oversize = new Oversize(http2.decoder().frameListener(), maxRequestBytes);
        var unread = new UnreadAnswers(oversize, http2);
        var bodiless = new Bodiless(unread, http2, budget, maxStreams, CONNECTIONS.incrementAndGet());
        http2.decoder().frameListener(bodiless);
        http2.connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamActive(Http2Stream stream) {
                if ((stream.id() & 1) == 1) {   // a client's stream (odd ids)
                    bodiless.mine++;
                    budget.open().incrementAndGet();
                }
            }

            @Override
            public void onStreamClosed(Http2Stream stream) {
                if (bodiless.resettable.remove(stream.id())) {
                    StreamResets.closed(bodiless.ref(stream.id()));
                }
                bodiless.since.remove(stream.id());
                oversize.closed(stream.id());
                unread.closed(stream.id());
                if (bodiless.mine > 0 && (stream.id() & 1) == 1) {
                    bodiless.mine--;
                    budget.open().decrementAndGet();
                }
            }
        });
        ChannelHandlerContext ctx = channel.pipeline().context(http2);   // its place: resets go out from there
        var sweep = channel.eventLoop().scheduleAtFixedRate(() -> {
            resetAnswered(ctx, http2, bodiless);
            bodiless.resetLate(ctx, http2);
            unread.sweep(ctx, bodiless);
        }, sweepNanos, sweepNanos, TimeUnit.NANOSECONDS);
        channel.closeFuture().addListener(f -> sweep.cancel(false));
    }

    /**
     * Unary calls whose request does not follow their headers. A client sends a unary call's request
     * right after its headers (gRPC clients hold the headers until they can), so headers and no DATA
     * for {@link #BODY_NANOS} is a call that holds its place (and, for a publish, the memory budget
     * it reserved for its message) and will never send anything: it is reset (CANCEL), whether the
     * broker has asked for its request yet or not.
     */
    static final class Bodiless extends Http2FrameListenerDecorator {
        static final long BODY_NANOS = TimeUnit.SECONDS.toNanos(2);
        private static final Set<String> UNARY = unaryPaths();
        private static final AsciiString REF_HEADER = AsciiString.of(StreamResets.HEADER);
        private static final String SUBSCRIBE = "/" + SluiceGrpc.getSubscribeMethod().getFullMethodName();
        private static final String PUBLISH_STREAM = "/" + SluiceGrpc.getPublishStreamMethod().getFullMethodName();
        final Map<Integer, Long> since = new HashMap<>();   // stream id: when its headers came (transport thread)
        int mine;                                            // this connection's client streams open
        private final UnreadAnswers unread;
        private final Http2ConnectionHandler http2;
        private final Budget budget;
        private final int maxStreams;
        private int lastStream;                              // the highest client stream id seen
        private final long connection;
        final Set<Integer> resettable = new HashSet<>();     // Subscribe streams in StreamResets (transport thread)

        Bodiless(UnreadAnswers listener, Http2ConnectionHandler http2, Budget budget, int maxStreams,
                 long connection) {
            super(listener);
            this.connection = connection;
            this.unread = listener;
            this.http2 = http2;
            this.budget = budget;
            this.maxStreams = maxStreams;
        }

        /**
         * Refuses (RST_STREAM REFUSED_STREAM, which gRPC clients retry) a new stream past its
         * connection's limit, or that puts the broker over its budget of streams unless it is its
         * connection's only one: a client calling one at a time is served whatever other connections
         * hold. The stream exists for HTTP/2, so the DATA its client may already have sent is dropped
         * as a reset stream's, not taken as a protocol error that would close the connection (as a
         * MAX_CONCURRENT_STREAMS the client has not acknowledged, or a lowered one, would).
         */
        private boolean refused(ChannelHandlerContext ctx, int streamId) {
            if (streamId <= lastStream || (streamId & 1) == 0) {
                return false;   // trailers of a stream already taken
            }
            lastStream = streamId;
            if (mine <= maxStreams && (budget.open().get() <= budget.limit() || mine <= 1)) {
                return false;
            }
            http2.resetStream(ctx, streamId, Http2Error.REFUSED_STREAM.code(), ctx.newPromise());
            return true;
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                                  boolean endOfStream) throws Http2Exception {
            if (refused(ctx, streamId)) {
                return;
            }
            noteHeaders(ctx, streamId, headers, endOfStream);
            super.onHeadersRead(ctx, streamId, headers, padding, endOfStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int dependency,
                                  short weight, boolean exclusive, int padding, boolean endOfStream)
                throws Http2Exception {
            if (refused(ctx, streamId)) {
                return;
            }
            noteHeaders(ctx, streamId, headers, endOfStream);
            super.onHeadersRead(ctx, streamId, headers, dependency, weight, exclusive, padding, endOfStream);
        }

        /**
         * Once the client acknowledges the broker's SETTINGS, HTTP/2 would enforce MAX_CONCURRENT_STREAMS
         * itself by refusing a stream before it exists, and take the DATA behind it for a protocol error
         * that closes the connection with all its calls: the limit stays with {@link #refused} instead.
         */
        @Override
        public void onSettingsAckRead(ChannelHandlerContext ctx) throws Http2Exception {
            super.onSettingsAckRead(ctx);
            http2.connection().remote().maxActiveStreams(Integer.MAX_VALUE);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
                              boolean endOfStream) throws Http2Exception {
            if (!since.isEmpty()) {   // every DATA frame passes here: no boxed lookup when no call waits
                since.remove(streamId);
            }
            return super.onDataRead(ctx, streamId, data, padding, endOfStream);
        }

        String ref(int streamId) {
            return connection + "/" + streamId;
        }

        private void noteHeaders(ChannelHandlerContext ctx, int streamId, Http2Headers headers, boolean endOfStream) {
            CharSequence path = headers.path();
            if (path != null && SUBSCRIBE.contentEquals(path)) {
                // over whatever the client sent (gRPC's headers take AsciiStrings only)
                headers.set(REF_HEADER, AsciiString.of(ref(streamId)));
                if (resettable.add(streamId)) {
                    StreamResets.open(ref(streamId), () -> ctx.executor().execute(() -> {
                        reset(ctx, http2, streamId, Http2Error.CANCEL);
                        ctx.flush();
                    }));
                }
            }
            if (path != null && PUBLISH_STREAM.contentEquals(path)) {
                unread.watch(streamId);   // its answers, like a unary call's, are taken at once by a client that reads
            }
            if (path == null || !UNARY.contains(path.toString())) {
                return;
            }
            unread.watch(streamId);
            if (!endOfStream && since.size() < 1 << 16) {
                since.putIfAbsent(streamId, System.nanoTime());
            }
        }

        void resetLate(ChannelHandlerContext ctx, Http2ConnectionHandler http2) {
            if (since.isEmpty()) {
                return;
            }
            long now = System.nanoTime();
            var late = new ArrayList<Integer>();
            since.forEach((id, at) -> {
                if (now - at >= BODY_NANOS) {
                    late.add(id);
                }
            });
            for (int id : late) {
                since.remove(id);
                reset(ctx, http2, id, Http2Error.CANCEL);
            }
            if (!late.isEmpty()) {
                ctx.flush();
            }
        }

        /**
         * Resets a stream as if the client had (gRPC ends its call: the call's listeners hear onCancel and give
         * back what it held; a reset of the HTTP/2 stream alone would leave the call open for ever), and tells
         * the client.
         */
        void reset(ChannelHandlerContext ctx, Http2ConnectionHandler http2, int id, Http2Error code) {
            if (http2.connection().stream(id) == null) {
                return;
            }
            try {
                listener.onRstStreamRead(ctx, id, code.code());
            } catch (Http2Exception e) {
                // the stream is gone already
            }
            if (http2.connection().stream(id) != null) {
                http2.resetStream(ctx, id, code.code(), ctx.newPromise());
            }
        }

        private static Set<String> unaryPaths() {
            var paths = new HashSet<String>();
            for (var service : List.of(SluiceGrpc.getServiceDescriptor(), HealthGrpc.getServiceDescriptor())) {
                for (MethodDescriptor<?, ?> m : service.getMethods()) {
                    if (m.getType() == MethodDescriptor.MethodType.UNARY) {
                        paths.add("/" + m.getFullMethodName());
                    }
                }
            }
            return Set.copyOf(paths);
        }
    }

    private static void resetAnswered(ChannelHandlerContext ctx, Http2ConnectionHandler http2, Bodiless bodiless) {
        var answered = new ArrayList<Http2Stream>();
        try {
            http2.connection().forEachActiveStream(stream -> {
                if (stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                    answered.add(stream);
                }
                return true;
            });
        } catch (Http2Exception e) {
            return;   // a visitor that does not throw: nothing to do
        }
        for (Http2Stream stream : answered) {
            bodiless.reset(ctx, http2, stream.id(), Http2Error.NO_ERROR);
        }
        if (!answered.isEmpty()) {
            ctx.flush();
        }
    }
}
