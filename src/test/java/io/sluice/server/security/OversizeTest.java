package io.sluice.server.security;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.buffer.Unpooled;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.embedded.EmbeddedChannel;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameAdapter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gRPC framing followed over DATA frames cut at every size: requests within the limit pass on
 * byte for byte, one over it is replaced by the marker and the rest of the stream is dropped, and
 * every received byte is given back to flow control exactly once (passed on, or given back here),
 * never before it arrived.
 */
class OversizeTest {
    private static final long LIMIT = 100;
    private final EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
    private final ChannelHandlerContext ctx = channel.pipeline().firstContext();

    @AfterEach
    void close() {
        channel.close();
    }

    /** What the listener behind got: the bytes, and whether the stream ended. */
    private static final class Behind extends Http2FrameAdapter {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean ended;

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean end) {
            byte[] got = new byte[data.readableBytes()];
            data.getBytes(data.readerIndex(), got);
            bytes.writeBytes(got);
            ended |= end;
            return padding;   // as gRPC: the data itself is given back once the call reads it
        }
    }

    @Test
    void requestsWithinTheLimitPassOnByteForByteWhateverTheFrames() throws Exception {
        var random = new Random(11);
        var wire = new ByteArrayOutputStream();
        for (int i = 0; i < 40; i++) {
            wire.writeBytes(message(random.nextInt((int) LIMIT + 1), (byte) i));
        }
        wire.writeBytes(message((int) LIMIT, (byte) 1));
        wire.writeBytes(message(0, (byte) 2));
        byte[] all = wire.toByteArray();
        for (int cut : new int[] {1, 2, 3, 4, 5, 6, 7, 64, all.length}) {
            var behind = new Behind();
            long given = feed(behind, all, cut, random);
            assertArrayEquals(all, behind.bytes.toByteArray(), "frames of " + cut);
            assertEquals(0, given, "nothing given back here: gRPC does once it reads");
            assertTrue(behind.ended);
        }
    }

    @Test
    void aRequestOverTheLimitBecomesTheMarkerAfterThoseBeforeItAndTheRestIsDropped() throws Exception {
        var random = new Random(12);
        var before = new ByteArrayOutputStream();
        before.writeBytes(message(10, (byte) 1));
        before.writeBytes(message(99, (byte) 2));
        byte[] over = message(5_000, (byte) 3);
        byte[] after = message(7, (byte) 4);
        byte[] all = concat(before.toByteArray(), over, after);
        byte[] expected = concat(before.toByteArray(), Oversize.marker(5_000, LIMIT));
        for (int cut = 1; cut <= 40; cut++) {
            var behind = new Behind();
            long given = feed(behind, all, cut, random);
            assertArrayEquals(expected, behind.bytes.toByteArray(), "frames of " + cut);
            assertEquals(all.length, given + behind.bytes.size(), "each byte given back once, frames of " + cut);
            assertTrue(behind.ended, "the end of the stream still passes on");
        }
    }

    @Test
    void aStreamEndingInsideAnOversizeHeaderOrItsFirstBytesGivesThemBack() throws Exception {
        byte[] over = message(5_000, (byte) 3);
        for (int length = 1; length < 15; length++) {
            var behind = new Behind();
            byte[] cut = java.util.Arrays.copyOf(over, length);
            long given = feed(behind, cut, 1, new Random(length));
            assertEquals(cut.length, given + behind.bytes.size(), "a stream cut after " + length + " bytes");
            assertTrue(behind.ended);
        }
    }

    @Test
    void randomStreamsCutAnywhereKeepEveryRule() throws Exception {
        var random = new Random(13);
        for (int round = 0; round < 2_000; round++) {
            var wire = new ByteArrayOutputStream();
            var expected = new ByteArrayOutputStream();
            boolean over = false;
            int messages = random.nextInt(6);
            for (int i = 0; i < messages; i++) {
                int length = random.nextInt(4) == 0 ? (int) LIMIT + 1 + random.nextInt(300)
                        : random.nextInt((int) LIMIT + 1);
                byte[] m = message(length, (byte) i);
                wire.writeBytes(m);
                if (!over && length > LIMIT) {
                    over = true;
                    expected.writeBytes(Oversize.marker(length, LIMIT));
                } else if (!over) {
                    expected.writeBytes(m);
                }
            }
            byte[] all = wire.toByteArray();
            int end = all.length == 0 ? 0 : random.nextInt(all.length + 1);   // the client may stop anywhere
            byte[] sent = java.util.Arrays.copyOf(all, end);
            var behind = new Behind();
            long given = sent.length == 0 ? 0 : feed(behind, sent, 1 + random.nextInt(40), random);
            byte[] got = behind.bytes.toByteArray();
            assertEquals(sent.length, given + got.length, "each byte given back once, round " + round);
            byte[] whole = expected.toByteArray();
            if (end == all.length) {
                assertArrayEquals(whole, got, "round " + round);
            } else {   // cut: what passed on is what would have passed, up to where a marker would start
                assertArrayEquals(java.util.Arrays.copyOf(whole, got.length), got, "a prefix, round " + round);
            }
        }
    }

    @Test
    void emptyDataFramesAreDroppedAndAMessageInTinyFramesClosesTheConnection() throws Exception {
        var behind = new Behind();
        var oversize = new Oversize(behind, 1 << 20);
        for (int i = 0; i < 100_000; i++) {
            assertEquals(3, oversize.onDataRead(ctx, 1, Unpooled.EMPTY_BUFFER, 3, false), "its padding given back");
        }
        assertEquals(0, behind.bytes.size(), "nothing passed on");
        byte[] header = message(1 << 19, (byte) 0);   // a message of 512 KiB, sent a byte a frame
        int frames = 0;
        try {
            for (int i = 0; i < 5 + (1 << 19); i++) {
                ByteBuf one = Unpooled.wrappedBuffer(header, i, 1);
                oversize.onDataRead(ctx, 3, one, 0, false);
                frames++;
            }
            throw new AssertionError("every frame taken");
        } catch (io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception e) {
            assertEquals(io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error.ENHANCE_YOUR_CALM, e.error());
            assertTrue(frames <= Oversize.MAX_SMALL, "closed after " + frames + " frames");
        }
        // Messages that finish free their frames: the same bytes as whole small messages never close it.
        var calm = new Oversize(new Behind(), 1 << 20);
        for (int i = 0; i < 3 * Oversize.MAX_SMALL; i++) {
            calm.onDataRead(ctx, 5, Unpooled.wrappedBuffer(message(10, (byte) i)), 0, false);
        }
    }

    @Test
    void theMarkerParsesToResourceExhaustedNamingBothSizesAndNothingElseDoes() {
        byte[] marker = Oversize.marker(20_000_000, 18_874_368);
        var body = new ByteArrayInputStream(marker, 5, marker.length - 5);
        Status s = Oversize.status(body, "sluice.v1.Sluice/Publish");
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
        assertTrue(s.getDescription().contains("20000000 bytes") && s.getDescription().contains("18874368"),
                s.getDescription());
        byte[] ten = {8, 1, 16, 2, 24, 3, 32, 4, 40, 5};   // a valid message of ten bytes
        var request = new ByteArrayInputStream(ten);
        assertNull(Oversize.status(request, "m"));
        assertArrayEquals(ten, request.readAllBytes(), "a request that is not the marker is read whole after");
    }

    /**
     * Feeds {@code wire} in frames of {@code cut} bytes (or random sizes up to it), checking that no
     * more is passed on and given back than has arrived; answers the bytes given back here.
     */
    private long feed(Behind behind, byte[] wire, int cut, Random random) throws Exception {
        var oversize = new Oversize(behind, LIMIT);
        long given = 0;
        int at = 0;
        do {
            int size = Math.min(wire.length - at, cut == 1 ? 1 : 1 + random.nextInt(cut));
            ByteBuf frame = Unpooled.wrappedBuffer(wire, at, size);
            at += size;
            given += oversize.onDataRead(ctx, 1, frame, 0, at == wire.length);
            frame.release();
            assertTrue(given + behind.bytes.size() <= at, "never more than has arrived");
        } while (at < wire.length);
        return given;
    }

    private static byte[] message(int length, byte fill) {
        byte[] body = new byte[length];
        java.util.Arrays.fill(body, fill);
        return ByteBuffer.allocate(5 + length).put((byte) 0).putInt(length).put(body).array();
    }

    private static byte[] concat(byte[]... parts) {
        var out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
