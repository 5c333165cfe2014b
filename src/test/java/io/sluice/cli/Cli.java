package io.sluice.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.client.SluiceClient;
import io.sluice.server.TestBroker;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The command line run in-process through {@link Main#run(InputStream, java.io.OutputStream, PrintWriter,
 * String...)} (stdout as bytes) against a real broker, with a client of its own. Close it in
 * {@code @AfterEach}.
 */
final class Cli implements AutoCloseable {
    final TestBroker broker;
    final SluiceClient client;
    final String target;

    /** What one run printed and answered. */
    record Run(int exit, byte[] stdout, String err) {
        String out() {
            return new String(stdout, UTF_8).replace("\r\n", "\n");
        }

        List<String> lines() {
            return out().isEmpty() ? List.of() : List.of(out().split("\n"));
        }

        /** Exit 0, nothing on stderr. */
        Run ok() {
            assertEquals(0, exit, () -> "exit " + exit + ", stderr: " + err);
            assertEquals("", err);
            return this;
        }
    }

    private Cli(TestBroker broker) {
        this.broker = broker;
        this.target = "127.0.0.1:" + broker.port();
        this.client = SluiceClient.connect(target);
    }

    /** A broker with its data in {@code data}. */
    static Cli start(Path data) {
        return new Cli(TestBroker.start(data));
    }

    /** Runs {@code sluice ARGS --target <the test broker>} with nothing on stdin. */
    Run run(String... args) {
        return input(new ByteArrayInputStream(new byte[0]), args);
    }

    /** Runs {@code sluice ARGS --target <the test broker>} reading {@code stdin}. */
    Run input(InputStream stdin, String... args) {
        return bare(stdin, Stream.concat(Arrays.stream(args), Stream.of("--target", target)).toArray(String[]::new));
    }

    /** Runs {@code sluice ARGS} as given (no --target added). */
    static Run bare(InputStream stdin, String... args) {
        var out = new ByteArrayOutputStream();
        var err = new StringWriter();
        int exit = Main.run(stdin, out, new PrintWriter(err, true), args);
        return new Run(exit, out.toByteArray(), err.toString().replace("\r\n", "\n"));
    }

    @Override
    public void close() throws InterruptedException {
        client.close();
        broker.close();
    }
}
