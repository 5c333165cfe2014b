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
 * connects and waits) do not keep scrapes from being answered, and are closed after the request time;
 * on a loopback address, requests addressed to other names (DNS rebinding) are refused.
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
                    byte[] unfinished = "GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII);
                    s.getOutputStream().write(unfinished);
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

    @Test
    void onALoopbackAddressOnlyRequestsAddressedToLoopbackAreAnswered() throws Exception {
        int port = MetricsScrape.freePort();
        try (var broker = TestBroker.start(dir, c -> c.withPorts(0, port))) {
            for (String host : new String[] {"localhost", "127.0.0.1", "[::1]"}) {
                assertTrue(statusLine(port, host + ":" + port, "/api/overview").contains(" 200 "), host);
            }
            // a page of another name that its owner made resolve to 127.0.0.1 (DNS rebinding)
            assertTrue(statusLine(port, "evil.example:" + port, "/api/peek?topic=t").contains(" 403 "));
            assertTrue(statusLine(port, "evil.example:" + port, "/metrics").contains(" 403 "));
        }
    }

    private static String statusLine(int port, String host, String path) throws IOException {
        try (var s = new Socket("127.0.0.1", port)) {
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(10_000);
            return new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                    StandardCharsets.US_ASCII)).readLine();
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
