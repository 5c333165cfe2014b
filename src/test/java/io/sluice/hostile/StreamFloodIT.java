package io.sluice.hostile;

import static io.sluice.RawHttp2.PREFACE;
import static io.sluice.RawHttp2.frame;
import static io.sluice.RawHttp2.headerBlock;
import static io.sluice.RawHttp2.settings;

import io.sluice.Figures;
import io.sluice.proto.SluiceGrpc;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Case 11, streams that never send a request: connections that each open a thousand Publish
 * streams with headers alone, never acknowledge the broker's SETTINGS (so HTTP/2 would never apply
 * its stream limit) and never read what the broker sends back. Before the broker applied its
 * limits from the first frame, a hundred such connections ran a {@code -Xmx128m} broker out of
 * heap for good. The broker must stay alive and healthy, answer the well-behaved publisher all the
 * while, and serve a new subscriber while the flooding connections are still open.
 */
class StreamFloodIT extends HostileCase {
    private static final int STREAMS = 1000;

    @Test
    void headerOnlyStreamsOnConnectionsThatNeverAcknowledgeAreBounded() throws Exception {
        HostileBroker b = start();
        b.startBackground();
        int connections = Figures.scaled(10, 100);
        byte[] flood = flood();
        var sockets = new ArrayList<Socket>();
        try {
            for (int i = 0; i < connections; i++) {
                var socket = new Socket("127.0.0.1", b.port());
                sockets.add(socket);
                try {
                    socket.getOutputStream().write(flood);
                    socket.getOutputStream().flush();
                } catch (IOException e) {
                    // the broker closed or refused this connection: that bounds it too
                }
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(Figures.scaled(3, 30));
            var publish = SluiceGrpc.newBlockingStub(b.channel);
            int n = 0;
            while (System.nanoTime() < end) {
                int k = n++;
                b.expect("publishes are answered while the streams are open", () -> publish
                        .withDeadlineAfter(10, TimeUnit.SECONDS).publish(io.sluice.proto.PublishRequest.newBuilder()
                                .setTopic("hostile.flood").setPayload(com.google.protobuf.ByteString
                                        .copyFromUtf8("during " + k)).build()));
            }
            b.expect("a subscriber is served while the flooding connections are open", b::probe);
        } finally {
            close(sockets);
        }
        b.finish("11 stream flood", (long) connections * STREAMS, connections + " connections x " + STREAMS
                + " header-only streams, SETTINGS never acknowledged");
    }

    /** The preface, empty SETTINGS, and {@link #STREAMS} HEADERS of Publish calls that never send their request. */
    private static byte[] flood() {
        var out = new ByteArrayOutputStream();
        out.writeBytes(PREFACE.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(settings());
        byte[] block = headerBlock(SluiceGrpc.getPublishMethod().getFullMethodName());
        for (int stream = 1; stream < 2 * STREAMS; stream += 2) {
            out.writeBytes(frame(1, 4, stream, block));   // HEADERS, END_HEADERS, not END_STREAM
        }
        return out.toByteArray();
    }

    private static void close(List<Socket> sockets) {
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException e) {
                // already closed by the broker
            }
        }
    }
}
