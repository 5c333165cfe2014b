package io.sluice.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.Await;
import io.sluice.client.OutboundMessage;
import io.sluice.client.SluiceClient;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ctrl-C (SIGINT) on the command line as a child process: what it printed, what it committed, how it exits. */
class CtrlCTest {
    private static final Pattern SEQUENCE = Pattern.compile("\"sequence\":(\\d+)");

    @TempDir
    Path dir;

    private TestBroker broker;
    private SluiceClient client;
    private String target;

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir.resolve("data"));
        target = "127.0.0.1:" + broker.port();
        client = SluiceClient.connect(target);
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        broker.close();
    }

    private static List<String> lines(CliProcess cli) {
        try {
            return cli.lines();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long sequence(String jsonLine) {
        Matcher m = SEQUENCE.matcher(jsonLine);
        if (!m.find()) {
            throw new AssertionError("no sequence in " + jsonLine);
        }
        return Long.parseLong(m.group(1));
    }

    @Test
    void ctrlCOnSubscribeAckCommitsTheAckOfTheLastPrintedMessage() throws Exception {
        var messages = new ArrayList<OutboundMessage>();
        for (int i = 0; i < 100; i++) {
            messages.add(OutboundMessage.of(("m" + i).getBytes(UTF_8), Map.of()));
        }
        var stopPublishing = new AtomicBoolean();
        // Messages keep streaming in while the subscriber prints: Ctrl-C comes in the middle of the flow.
        Thread publisher = Thread.ofPlatform().name("test-publisher").start(() -> {
            while (!stopPublishing.get()) {
                client.publishBatch("bulk", messages);
            }
        });
        try {
            long lastPrinted = -1;
            for (int round = 0; round < 3; round++) {
                try (var cli = CliProcess.start(dir, null, "subscribe", "bulk", "--group", "g1", "--from", "earliest",
                        "--ack", "--json", "--target", target)) {
                    Await.until("the subscriber prints messages", () -> lines(cli).size() >= 300,
                            () -> lines(cli).size() + " lines so far");
                    cli.signal("INT");
                    assertEquals(130, cli.awaitExit(), cli.stderr());
                    List<String> printed = cli.lines();
                    if (lastPrinted >= 0) {
                        assertEquals(lastPrinted + 1, sequence(printed.getFirst()),
                                "the next run starts right after the last message printed before Ctrl-C");
                    }
                    lastPrinted = sequence(printed.getLast());
                    long cursor = client.stats("bulk").getFirst().groups().getFirst().cursor();
                    assertEquals(lastPrinted, cursor, "the last printed message is acknowledged and committed");
                }
            }
        } finally {
            stopPublishing.set(true);
            publisher.join();
        }
    }

    @Test
    void ctrlCOnPublishBatchSaysHowMuchOfTheInputWasStored() throws Exception {
        try (var cli = CliProcess.start(dir, null, "publish", "lines", "--batch", "-", "--target", target)) {
            var stdin = cli.stdin();
            for (int i = 1; i <= 2500; i++) {
                stdin.write(("line " + i + "\n").getBytes(UTF_8));
            }
            stdin.flush();   // and left open: the last 500 lines wait for more input, or for its end
            Await.until("two batches of 1,000 are stored and their ids printed", () -> lines(cli).size() == 2000,
                    () -> lines(cli).size() + " lines so far");
            cli.signal("INT");
            assertEquals(130, cli.awaitExit(), cli.stderr());
            assertEquals("sluice: stopped by a signal; 2000 messages of this input stored (its lines 1-2000, "
                    + "ids above)\n", cli.stderr());
            assertEquals(2000, client.stats("lines").getFirst().totalMessages());
        }
    }
}
