package io.sluice.server;

import io.grpc.Codec;
import io.grpc.Decompressor;
import io.grpc.DecompressorRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * gzip for requests, read when the request is parsed rather than when its frame arrives. grpc-java's
 * own gzip reads the header as soon as a message is framed, on the transport, so a body sent under
 * {@code grpc-encoding: gzip} that is not gzip at all ends its call UNKNOWN with no description.
 * Here the header is read by the first read of the parser, whose failure {@link RequestParsing}
 * answers INVALID_ARGUMENT naming it, as it does a gzip stream cut short or a bomb.
 */
final class GzipRequests implements Decompressor {
    private GzipRequests() {
    }

    /** The encodings requests may use: none, or gzip (advertised), as grpc-java's default registry. */
    static DecompressorRegistry registry() {
        return DecompressorRegistry.emptyInstance()
                .with(new GzipRequests(), true)
                .with(Codec.Identity.NONE, false);
    }

    @Override
    public String getMessageEncoding() {
        return "gzip";
    }

    @Override
    public InputStream decompress(InputStream compressed) {
        return new Deferred(compressed);
    }

    /** Opens the gzip stream (reading its header) at the first read. */
    private static final class Deferred extends InputStream {
        private final InputStream compressed;
        private InputStream gzip;

        Deferred(InputStream compressed) {
            this.compressed = compressed;
        }

        private InputStream gzip() throws IOException {
            if (gzip == null) {
                gzip = new GZIPInputStream(compressed);
            }
            return gzip;
        }

        @Override
        public int read() throws IOException {
            return gzip().read();
        }

        @Override
        public int read(byte[] into, int offset, int length) throws IOException {
            return gzip().read(into, offset, length);
        }

        @Override
        public int available() throws IOException {
            return gzip == null ? 0 : gzip.available();
        }

        @Override
        public void close() throws IOException {
            if (gzip != null) {
                gzip.close();
            } else {
                compressed.close();
            }
        }
    }
}
