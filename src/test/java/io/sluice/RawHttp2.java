package io.sluice;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** HTTP/2 frames written and read by hand, for tests that speak to the broker below gRPC. */
public final class RawHttp2 {
    /** The client connection preface. */
    public static final String PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    private RawHttp2() {
    }

    /** The frames in {@code data}, each as {type, flags, stream}. */
    public static List<int[]> parse(byte[] data) {
        var frames = new ArrayList<int[]>();
        var b = ByteBuffer.wrap(data);
        while (b.remaining() >= 9) {
            int length = (b.get() & 0xFF) << 16 | (b.get() & 0xFF) << 8 | (b.get() & 0xFF);
            int type = b.get() & 0xFF;
            int flags = b.get() & 0xFF;
            int stream = b.getInt() & 0x7FFFFFFF;
            frames.add(new int[] {type, flags, stream});
            b.position(Math.min(b.limit(), b.position() + length));
        }
        return frames;
    }

    /** A frame header: 24-bit length, type, flags, stream id. */
    public static byte[] header(int type, int flags, int stream, int length) {
        return ByteBuffer.allocate(9).put((byte) (length >>> 16)).put((byte) (length >>> 8)).put((byte) length)
                .put((byte) type).put((byte) flags).putInt(stream).array();
    }

    /** A frame with its payload. */
    public static byte[] frame(int type, int flags, int stream, byte[] payload) {
        return concat(header(type, flags, stream, payload.length), payload);
    }

    /** An empty SETTINGS frame (the defaults). */
    public static byte[] settings() {
        return frame(4, 0, 0, new byte[0]);
    }

    /** A request's header block in HPACK literals (no indexing, no Huffman). */
    public static byte[] headerBlock(String method) {
        var out = new ByteArrayOutputStream();
        String[][] fields = {{":method", "POST"}, {":scheme", "http"}, {":path", "/" + method},
                {":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}};
        for (String[] f : fields) {
            out.write(0);
            for (String s : f) {
                byte[] b = s.getBytes(StandardCharsets.US_ASCII);
                out.write(b.length);
                out.writeBytes(b);
            }
        }
        return out.toByteArray();
    }

    /** The parts, one after the other. */
    public static byte[] concat(byte[]... parts) {
        var out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
