package io.sluice.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.SequenceInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** publish reads a bounded amount of its input per message, and --batch lines byte for byte. */
class PublishInputTest extends CliCase {
    private static final int LIMIT = PublishCommand.MAX_PAYLOAD_BYTES;


    /** Twice the limit in 'x' bytes, counting what was read: without the limit, all of it would be read. */
    private static final class Endless extends InputStream {
        private static final long SIZE = 2L * LIMIT;
        long read;

        @Override
        public int read() {
            if (read >= SIZE) {
                return -1;
            }
            read++;
            return 'x';
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (read >= SIZE) {
                return -1;
            }
            int n = (int) Math.min(len, SIZE - read);
            java.util.Arrays.fill(b, off, off + n, (byte) 'x');
            read += n;
            return n;
        }
    }

    private List<byte[]> payloads(String topic, int count) throws InterruptedException {
        var out = new ArrayList<byte[]>();
        try (Subscription s = cli.client.subscribe(SubscriptionOptions.of(topic).browsing()
                .from(SubscriptionOptions.Position.EARLIEST))) {
            for (int i = 0; i < count; i++) {
                out.add(s.receive(Duration.ofSeconds(20)).orElseThrow().payload());
            }
        }
        return out;
    }

    @Test
    void aPayloadFromStdinOverTheLimitIsRefusedWithoutReadingTheRest() {
        var endless = new Endless();
        Cli.Run r = cli.input(endless, "publish", "big");
        assertEquals(1, r.exit(), r.err());
        assertEquals("sluice: stdin holds more than " + LIMIT + " bytes (64 MiB), the most publish sends as one "
                + "message; nothing was sent\n", r.err());
        assertTrue(endless.read <= LIMIT + 1 + (1 << 16), "read " + endless.read + " bytes");
        assertEquals(List.of(), cli.client.topics(), "nothing reached the broker");
    }

    @Test
    void aFileOverTheLimitIsRefusedFromItsSize() throws Exception {
        Path big = dir.resolve("big.bin");
        try (var file = new RandomAccessFile(big.toFile(), "rw")) {
            file.setLength(LIMIT + 1L);   // sparse: no disk used
        }
        Cli.Run r = cli.run("publish", "big", "--file", big.toString());
        assertEquals(1, r.exit(), r.err());
        assertEquals("sluice: " + big + " is " + (LIMIT + 1) + " bytes; publish sends at most " + LIMIT
                + " bytes (64 MiB) as one message; nothing was sent\n", r.err());
    }

    @Test
    void aBatchLineOverTheLimitFailsAfterTheLinesBeforeItAreStored() throws InterruptedException {
        var endless = new Endless();
        Cli.Run r = cli.input(new SequenceInputStream(new ByteArrayInputStream("a\n\nb\n".getBytes(UTF_8)), endless),
                "publish", "lines", "--batch", "-");
        assertEquals(1, r.exit(), r.err());
        assertEquals(2, r.lines().size(), "the ids of a and b: " + r.out());
        assertEquals("sluice: line 4 of stdin is longer than " + LIMIT + " bytes (64 MiB), the most publish sends as "
                + "one message; nothing from it on was sent; 2 messages of this input stored (its lines 1-3, "
                + "ids above)\n", r.err());
        assertTrue(endless.read <= LIMIT + 2 * (1 << 16), "read " + endless.read + " bytes");
        assertEquals(List.of("a", "b"), payloads("lines", 2).stream().map(p -> new String(p, UTF_8)).toList());
    }

    @Test
    void batchLinesArePublishedByteForByteWhateverTheirEnding() throws InterruptedException {
        byte[] input = {(byte) 0xff, 0, '\r', '\n', 'b', '\r', 'c', '\n', '\n', 'd'};
        cli.input(new ByteArrayInputStream(input), "publish", "raw", "--batch", "-").ok();
        List<byte[]> got = payloads("raw", 4);
        assertArrayEquals(new byte[] {(byte) 0xff, 0}, got.get(0));
        assertEquals(List.of("b", "c", "d"), got.subList(1, 4).stream().map(p -> new String(p, UTF_8)).toList());
    }
}
