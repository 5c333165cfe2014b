package io.sluice.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.Await;
import io.sluice.client.OutboundMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Ctrl-C (SIGINT) on the command line as a child process: what it printed, what it committed, how it exits. */
class CtrlCTest extends CliCase {
    private static final Pattern SEQUENCE = Pattern.compile("\"sequence\":(\\d+)");

    private static List<String> lines(CliProcess process) {
        try {
            return process.lines();
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
                cli.client.publishBatch("bulk", messages);
            }
        });
        try {
            long lastPrinted = -1;
            for (int round = 0; round < 3; round++) {
                try (var process = CliProcess.start(dir, null, "subscribe", "bulk", "--group", "g1", "--from",
                        "earliest", "--ack", "--json", "--target", cli.target)) {
                    Await.until("the subscriber prints messages", () -> lines(process).size() >= 300,
                            () -> lines(process).size() + " lines so far");
                    process.signal("INT");
                    assertEquals(130, process.awaitExit(), process.stderr());
                    List<String> printed = process.lines();
                    if (lastPrinted >= 0) {
                        assertEquals(lastPrinted + 1, sequence(printed.getFirst()),
                                "the next run starts right after the last message printed before Ctrl-C");
                    }
                    lastPrinted = sequence(printed.getLast());
                    long cursor = cli.client.stats("bulk").getFirst().groups().getFirst().cursor();
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
        try (var process = CliProcess.start(dir, null, "publish", "lines", "--batch", "-", "--target", cli.target)) {
            var stdin = process.stdin();
            for (int i = 1; i <= 2500; i++) {
                stdin.write(("line " + i + "\n").getBytes(UTF_8));
            }
            stdin.flush();   // and left open: what came is stored without waiting for more input, or for its end
            Await.until("the 2,500 lines are stored and their ids printed", () -> lines(process).size() == 2500,
                    () -> lines(process).size() + " lines so far");
            process.signal("INT");
            assertEquals(130, process.awaitExit(), process.stderr());
            assertEquals("sluice: stopped by a signal; 2500 messages of this input stored (its lines 1-2500, "
                    + "ids above)\n", process.stderr());
            assertEquals(2500, cli.client.stats("lines").getFirst().totalMessages());
        }
    }
}
