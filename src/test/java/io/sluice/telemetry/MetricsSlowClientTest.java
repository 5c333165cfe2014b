package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.server.TestBroker;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients of the metrics port that never finish their request (a slowloris, or a port scanner that
 * connects and waits) do not keep scrapes from being answered, and are closed after the request time.
 */
class MetricsSlowClientTest {
    @TempDir
    Path dir;

    @Test
    void requestsThatNeverEndDoNotHoldTheEndpointAndAreClosed() throws Exception {
        int port = MetricsScrape.freePort();
        var metrics = new MetricsScrape(port);
        try (var broker = TestBroker.start(dir, c -> c.withPorts(0, port))) {
            List<Socket> slow = new ArrayList<>();
            try {
                for (int i = 0; i < 10; i++) {
                    var s = new Socket("127.0.0.1", port);
                    s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    slow.add(s);
                }
                long start = System.nanoTime();
                assertTrue(metrics.scrape().contains("sluice_build_info"));
                assertTrue(System.nanoTime() - start < 5_000_000_000L, "a scrape waited behind the slow requests");
                // Each slow connection is closed by the server once its request time is up.
                for (Socket s : slow) {
                    s.setSoTimeout((Telemetry.HTTP_REQUEST_SECONDS + 30) * 1000);
                    assertEquals(-1, readToEnd(s.getInputStream()), "closed by the server");
                }
            } finally {
                for (Socket s : slow) {
                    s.close();
                }
            }
        }
    }

    /** Reads what the server sends until it closes the connection; answers -1 then. */
    private static int readToEnd(InputStream in) throws IOException {
        try {
            while (in.read() >= 0) {
                // an error answer may come before the close
            }
            return -1;
        } catch (SocketTimeoutException e) {
            return 0;
        }
    }
}
