package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.grpc.Compressor;
import io.grpc.CompressorRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests sent under {@code grpc-encoding: gzip} by a real gRPC client whose "gzip" writes what
 * each case needs: real gzip is stored; a body that is not gzip at all, a gzip stream cut short,
 * and a bomb each get their status naming the problem, nothing is logged as an error, and the
 * connection and the broker serve on.
 */
class CompressedRequestTest {
    @TempDir
    Path dir;

    private TestBroker broker;
    private LogRecorder logs;
    private final List<ManagedChannel> channels = new java.util.ArrayList<>();

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir);
        logs = LogRecorder.install();
    }

    @AfterEach
    void stop() throws InterruptedException {
        try {
            assertEquals(List.of(), logs.severe(), "a client's bad compression is not logged as an error");
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
            logs.close();
            broker.close();
        }
    }

    @Test
    void realGzipIsStored() {
        var stub = stub(GZIPOutputStream::new);
        assertTrue(stub.publish(publish("gzip")).getSequence() > 0);
        assertTrue(stub.publish(publish("gzip")).getSequence() > 0, "the connection serves on");
    }

    @Test
    void aBodyThatIsNotGzipIsInvalidArgumentNamingIt() {
        var stub = stub(out -> out);
        assertStatus(stub, Status.Code.INVALID_ARGUMENT, "decompressed");
    }

    @Test
    void aGzipStreamCutShortIsInvalidArgumentNamingIt() {
        var stub = stub(out -> new Truncating(out));
        assertStatus(stub, Status.Code.INVALID_ARGUMENT, "ends before it is whole");
    }

    @Test
    void aBombIsResourceExhausted() {
        var stub = stub(out -> new GZIPOutputStream(out) {
            @Override
            public void close() throws IOException {
                // A second payload field (the last one wins) of 64 MiB of zeros: about 64 KiB on the wire.
                var field = CodedOutputStream.newInstance(this);
                field.writeTag(PublishRequest.PAYLOAD_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                field.writeUInt32NoTag(64 << 20);
                field.flush();
                byte[] zeros = new byte[1 << 20];
                for (int i = 0; i < 64; i++) {
                    write(zeros);
                }
                super.close();
            }
        });
        assertStatus(stub, Status.Code.RESOURCE_EXHAUSTED, "exceeds maximum size");
    }

    private void assertStatus(SluiceGrpc.SluiceBlockingStub stub, Status.Code code, String naming) {
        for (int i = 0; i < 2; i++) {   // twice: the connection lives on after the first
            var e = assertThrows(StatusRuntimeException.class, () -> stub.publish(publish("bad")));
            assertEquals(code, e.getStatus().getCode(), e.toString());
            assertTrue(e.getStatus().getDescription() != null && e.getStatus().getDescription().contains(naming),
                    e.toString());
        }
        assertTrue(broker.blocking().publish(publish("after")).getSequence() > 0, "the broker serves on");
    }

    private interface Wrap {
        OutputStream around(OutputStream out) throws IOException;
    }

    /** A stub whose requests are marked gzip and written through {@code wrap}. */
    private SluiceGrpc.SluiceBlockingStub stub(Wrap wrap) {
        var gzip = new Compressor() {
            @Override
            public String getMessageEncoding() {
                return "gzip";
            }

            @Override
            public OutputStream compress(OutputStream out) throws IOException {
                return wrap.around(out);
            }
        };
        CompressorRegistry registry = CompressorRegistry.newEmptyInstance();
        registry.register(gzip);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).usePlaintext()
                .compressorRegistry(registry).build();
        channels.add(channel);
        return SluiceGrpc.newBlockingStub(channel).withCompression("gzip").withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static PublishRequest publish(String topic) {
        return PublishRequest.newBuilder().setTopic(topic)
                .setPayload(ByteString.copyFromUtf8("x".repeat(200))).build();
    }

    /** Real gzip with its last half left off. */
    private static final class Truncating extends FilterOutputStream {
        private final ByteArrayOutputStream whole = new ByteArrayOutputStream();

        Truncating(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) {
            whole.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            whole.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            var bytes = new ByteArrayOutputStream();
            try (var gzip = new GZIPOutputStream(bytes)) {
                whole.writeTo(gzip);
            }
            out.write(bytes.toByteArray(), 0, bytes.size() / 2);
            out.close();
        }
    }
}
