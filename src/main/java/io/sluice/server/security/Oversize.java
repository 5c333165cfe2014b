package io.sluice.server.security;

import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.buffer.CompositeByteBuf;
import io.grpc.netty.shaded.io.netty.buffer.Unpooled;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameListener;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.grpc.netty.shaded.io.netty.util.collection.IntObjectHashMap;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * Requests larger than the transport's limit, turned into a small marker request in their place.
 *
 * <p>Left to gRPC, a request over its limit fails the call on the transport: it ends at once, so a
 * stream's earlier requests that were stored but not answered yet lose their answers, and once the
 * stream has sent anything the client sees the stream reset (CANCELLED) rather than a status. Here
 * the gRPC framing of each stream's DATA is followed (a 5-byte header: a flag and the length). A
 * message announced over the limit is never buffered: its first 15 bytes are replaced by a marker
 * (a 10-byte message that is not valid protobuf) and the rest of the stream is dropped, its bytes
 * given back to flow control at once. The marker reaches the call in order, after the requests
 * before it, and the request parser answers it RESOURCE_EXHAUSTED naming both sizes ({@link #status}).
 *
 * <p>Each received byte is either passed on (gRPC gives it back to flow control once read) or given
 * back here, never both: header bytes split across frames are held until the header is whole, and
 * the marker stands for as many bytes as it has. Runs on the connection's transport thread.
 */
public final class Oversize extends Http2FrameListenerDecorator {
    private static final int HEADER = 5;
    private static final int MARKER_BODY = 10;
    private static final int MARKER = HEADER + MARKER_BODY;

    /** DATA frames under this size that leave a message unfinished count against {@link #MAX_SMALL}. */
    private static final int SMALL = 1024;
    /** Small frames of unfinished messages a connection may have: each costs gRPC a buffer of its own. */
    static final int MAX_SMALL = 4096;

    private final long limit;
    private final IntObjectHashMap<Framing> streams = new IntObjectHashMap<>();
    private int smallPending;   // small frames passed on of messages not yet whole, across the streams

    /** Where a stream's DATA is in its gRPC framing. */
    private static final class Framing {
        final byte[] header = new byte[HEADER];
        int held;          // bytes of a header split across frames, held until it is whole
        long body;         // bytes of the current message still to pass on
        long announced;    // the length of a message over the limit, while its first bytes are counted
        int counted;       // bytes of that message counted so far (the marker replaces them)
        boolean dropping;  // the marker is passed on: the rest of the stream is dropped
        int smallFrames;   // small frames passed on of the message not yet whole
    }

    Oversize(Http2FrameListener listener, long limit) {
        super(listener);
        this.limit = limit;
    }

    /** Forgets a closed stream. */
    void closed(int streamId) {
        forget(streams.remove(streamId));
    }

    private void forget(Framing f) {
        if (f != null) {
            smallPending -= f.smallFrames;
            f.smallFrames = 0;
        }
    }

    /**
     * Empty DATA frames carry nothing and are dropped here (each would cost gRPC a buffer until the
     * stream ends: a flood of them ran the heap out in a second). A connection whose unfinished
     * messages arrive in more than {@link #MAX_SMALL} small frames (a byte at a time, within flow
     * control) is closed (ENHANCE_YOUR_CALM) for the same reason; clients send frames of kilobytes.
     */
    @Override
    public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream)
            throws Http2Exception {
        if (!data.isReadable() && !endOfStream) {
            return padding;
        }
        Framing f = streams.get(streamId);
        if (f == null) {
            f = new Framing();
            streams.put(streamId, f);
        }
        int start = data.readerIndex();
        int end = data.writerIndex();
        int pos = start;
        int from = start;           // the start of the bytes of data still to pass on
        CompositeByteBuf out = null; // null while data passes on as it is
        int given = 0;              // bytes given back to flow control here
        while (pos < end) {
            if (f.dropping) {
                out = pass(ctx, out, data, from, pos);
                given += end - pos;
                pos = end;
                from = end;
            } else if (f.counted > 0) {
                out = pass(ctx, out, data, from, pos);
                int take = Math.min(MARKER - f.counted, end - pos);
                f.counted += take;
                pos += take;
                from = pos;
                if (f.counted == MARKER) {
                    out = add(ctx, out, Unpooled.wrappedBuffer(marker(f.announced, limit)));
                    f.dropping = true;
                }
            } else if (f.body > 0) {
                long skip = Math.min(f.body, end - pos);
                pos += (int) skip;
                f.body -= skip;
                if (f.body == 0) {
                    forget(f);   // the message is whole: gRPC takes its buffers
                }
            } else if (f.held == 0 && end - pos >= HEADER) {
                long length = data.getUnsignedInt(pos + 1);
                if (length > limit) {
                    out = pass(ctx, out, data, from, pos);
                    f.announced = length;
                    f.counted = HEADER;
                    from = pos + HEADER;
                }
                f.body = length > limit ? 0 : length;
                pos += HEADER;
            } else {   // a header split across frames
                out = pass(ctx, out, data, from, pos);
                int take = Math.min(HEADER - f.held, end - pos);
                data.getBytes(pos, f.header, f.held, take);
                f.held += take;
                pos += take;
                from = pos;
                if (f.held == HEADER) {
                    f.held = 0;
                    long length = Integer.toUnsignedLong(
                            (f.header[1] & 0xff) << 24 | (f.header[2] & 0xff) << 16
                                    | (f.header[3] & 0xff) << 8 | f.header[4] & 0xff);
                    if (length > limit) {
                        f.announced = length;
                        f.counted = HEADER;
                    } else {
                        out = add(ctx, out, Unpooled.wrappedBuffer(f.header.clone()));
                        f.body = length;
                    }
                }
            }
        }
        if (!f.dropping && f.counted == 0 && (f.body > 0 || f.held > 0) && end - start < SMALL && !endOfStream) {
            f.smallFrames++;
            if (++smallPending > MAX_SMALL) {
                throw Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM, "over " + MAX_SMALL
                        + " DATA frames of under " + SMALL + " bytes carry messages not yet whole");
            }
        }
        if (endOfStream) {   // what is held or counted will never be whole: gRPC sees the stream cut there
            if (f.held > 0) {
                out = add(ctx, out, Unpooled.wrappedBuffer(f.header, 0, f.held));
            }
            given += f.dropping ? 0 : f.counted;
            forget(streams.remove(streamId));
        }
        if (out == null) {
            if (from == start && given == 0) {
                return super.onDataRead(ctx, streamId, data, padding, endOfStream);
            }
            if (from == end && !endOfStream) {
                return given + padding;
            }
            return given + super.onDataRead(ctx, streamId, data.slice(from, end - from), padding, endOfStream);
        }
        out = pass(ctx, out, data, from, end);
        try {
            return given + super.onDataRead(ctx, streamId, out, padding, endOfStream);
        } finally {
            out.release();
        }
    }

    private static CompositeByteBuf pass(ChannelHandlerContext ctx, CompositeByteBuf out, ByteBuf data, int from,
                                         int to) {
        return to > from ? add(ctx, out, data.retainedSlice(from, to - from)) : out;
    }

    private static CompositeByteBuf add(ChannelHandlerContext ctx, CompositeByteBuf out, ByteBuf part) {
        CompositeByteBuf to = out != null ? out : ctx.alloc().compositeBuffer();
        return to.addComponent(true, part);
    }

    /** The marker message: its gRPC header, then a zero tag (never valid protobuf) and both sizes. */
    static byte[] marker(long announced, long limit) {
        return ByteBuffer.allocate(MARKER).put((byte) 0).putInt(MARKER_BODY)
                .putShort((short) 0).putInt((int) announced).putInt((int) Math.min(limit, 0xffffffffL)).array();
    }

    /**
     * The status of a request that is the marker of one over the limit, or null for any other request
     * (then {@code request} is where it was). Reads only a request of exactly the marker's size.
     */
    public static Status status(InputStream request, String method) {
        try {
            if (request.available() != MARKER_BODY || !request.markSupported()) {   // the cheap test first
                return null;
            }
            request.mark(MARKER_BODY);
            byte[] body = request.readNBytes(MARKER_BODY);
            if (body.length == MARKER_BODY && body[0] == 0 && body[1] == 0) {
                var sizes = ByteBuffer.wrap(body, 2, 8);
                long announced = Integer.toUnsignedLong(sizes.getInt());
                long limit = Integer.toUnsignedLong(sizes.getInt());
                return Status.RESOURCE_EXHAUSTED.withDescription("a request to " + method + " of " + announced
                        + " bytes is over the broker's limit of " + limit + " bytes a request "
                        + "(--max-batch-bytes plus 2 MiB)");
            }
            request.reset();
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
