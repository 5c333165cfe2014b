package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A port that is taken stops the start with a message naming the port, the listener and the flag. */
class PortInUseTest {
    @TempDir
    Path dir;

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
        }
        // The store it had opened was closed again: a broker starts on the same data at once.
        try (var b = TestBroker.start(dir)) {
            assertTrue(b.port() > 0);
        }
    }
}
