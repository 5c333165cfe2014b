package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.Contents;
import io.sluice.Figures;
import io.sluice.Ledger;
import io.sluice.PipelinedPublisher;
import io.sluice.proto.InitialPosition;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker's start and stop: a port that is taken stops the start with a message naming the port, the
 * listener and the flag; a graceful stop ends every kind of stream, with UNAVAILABLE, and loses nothing
 * answered.
 */
@ExtendWith(Figures.class)
class StartStopTest {
    @TempDir
    Path dir;

    private TestBroker broker;

    @AfterEach
    void stop() throws InterruptedException {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void shutdownEndsOpenPublishStreamsWithUnavailableAfterAnsweringWhatTheyTook() throws Exception {
        broker = TestBroker.start(dir);
        var ledger = new Ledger();
        var subscriber = StreamClient.group(broker.async(), "piped", "g", InitialPosition.EARLIEST);
        subscriber.credit(Integer.MAX_VALUE);
        try (var publisher = new PipelinedPublisher(broker.channel(), "piped", "s", ledger);
             var idle = new PipelinedPublisher(broker.channel(), "idle", "i", ledger)) {
            publisher.awaitAnswered(500);
            idle.awaitAnswered(1);

            broker.server().close();

            for (PipelinedPublisher p : new PipelinedPublisher[] {publisher, idle}) {
                Status end = p.awaitEnd();
                assertEquals(Status.Code.UNAVAILABLE, end.getCode(), "a PublishStream held open: " + end);
                assertTrue(end.getDescription().contains("shutting down"), end.toString());
            }
            assertEquals("SHUTTING_DOWN", subscriber.untilStreamError().error().getCode());
            subscriber.expectClosedWith(Status.Code.UNAVAILABLE);
            broker.restart();
            Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
            v.assertNothingLost(ledger);
            System.out.printf("StartStopTest: PublishStreams held open got UNAVAILABLE after %d answers (%d refused); "
                    + "all %d answered messages stored%n", publisher.answered(), publisher.refused(), ledger.size());
        }
    }

    @Test
    void metricsPortInUse() throws Exception {
        try (var taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            var e = assertThrows(RuntimeException.class, () -> SluiceServer.start(
                    ServerConfig.defaults(dir).withHost("127.0.0.1").withPorts(0, port)));
            String m = e.getMessage();
            assertTrue(m.contains("metrics") && m.contains("127.0.0.1:" + port) && m.contains("already in use")
                    && m.contains("--metrics-port") && m.contains("SLUICE_METRICS_PORT"), m);
            assertTrue(m.contains("process " + ProcessHandle.current().pid()), "names who holds it: " + m);
        }
    }

    @Test
    void grpcPortInUse() throws Exception {
        try (var taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            var e = assertThrows(RuntimeException.class, () -> SluiceServer.start(
                    ServerConfig.defaults(dir).withHost("127.0.0.1").withPorts(port, 0)));
            String m = e.getMessage();
            assertTrue(m.contains("gRPC") && m.contains("127.0.0.1:" + port) && m.contains("already in use")
                    && m.contains("--port") && m.contains("SLUICE_PORT"), m);
            // found before the storage was opened: no data directory made for a broker that never served
            assertFalse(java.nio.file.Files.exists(dir.resolve("sluice.db")), "the storage was opened");
        }
        // Nothing it had opened is left held: a broker starts on the same data at once.
        try (var b = TestBroker.start(dir)) {
            assertTrue(b.port() > 0);
        }
    }
}
