package io.sluice.telemetry;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/** The console handler's treatment of the libraries' lines. */
class LoggingTest {

    /** What {@code console} writes for {@code record}: the handler writes to the stderr of its creation. */
    private static String written(LogRecord record) {
        PrintStream stderr = System.err;
        var out = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(out, true, StandardCharsets.UTF_8));
            var console = new Logging.Console(false);
            console.setFormatter(new Logging.OneLine());
            console.setLevel(Level.INFO);
            console.publish(record);
            console.flush();
        } finally {
            System.setErr(stderr);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static LogRecord transportFailed(Throwable cause) {
        var r = new LogRecord(Level.INFO, "Transport failed");
        r.setLoggerName("io.grpc.netty.shaded.io.grpc.netty.NettyServerTransport.connections");
        r.setThrown(cause);
        return r;
    }

    @Test
    void aConnectionClosedForWantOfMemoryIsAWarning() {
        String line = written(transportFailed(
                new OutOfMemoryError("Cannot reserve 2097152 bytes of direct buffer memory")));
        assertTrue(line.contains(" WARN  connections: Transport failed: java.lang.OutOfMemoryError: Cannot reserve"),
                line);
    }

    @Test
    void anOrdinaryTransportFailureStaysInfo() {
        String line = written(transportFailed(new java.io.IOException("Connection reset by peer")));
        assertTrue(line.contains(" INFO  connections: Transport failed: java.io.IOException"), line);
    }
}
