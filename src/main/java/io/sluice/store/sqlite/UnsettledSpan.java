package io.sluice.store.sqlite;

import java.io.ByteArrayOutputStream;
import java.util.Collection;
import java.util.function.LongConsumer;

/**
 * A shared group's unsettled sequences as one value kept in the group's row ({@code
 * consumer_groups.unsettled}): runs of consecutive sequences, each written as two unsigned varints,
 * the gap after the previous run (the first counted from the group's cursor) and the run's length
 * less one. A group draining a topic in order holds a few runs however many messages are in flight;
 * at worst (no two unsettled sequences adjacent) it takes a few bytes a message, and never more
 * than its max in flight of messages. Decoding needs the cursor it was written against, which is
 * stored in the same row by the same update. Stateless.
 */
final class UnsettledSpan {
    private UnsettledSpan() {
    }

    /** Encodes {@code sequences} (increasing, all above {@code cursor}). */
    static byte[] encode(long cursor, Collection<Long> sequences) {
        var out = new ByteArrayOutputStream(16);
        long previous = cursor;
        long start = -1;
        long end = -1;
        for (long seq : sequences) {
            if (start >= 0 && seq == end + 1) {
                end = seq;
                continue;
            }
            if (start >= 0) {
                writeRun(out, previous, start, end);
                previous = end;
            }
            start = seq;
            end = seq;
        }
        if (start >= 0) {
            writeRun(out, previous, start, end);
        }
        return out.toByteArray();
    }

    private static void writeRun(ByteArrayOutputStream out, long previous, long start, long end) {
        writeVarint(out, start - previous - 1);
        writeVarint(out, end - start);
    }

    /** Hands every sequence {@code encoded} holds to {@code each}, in increasing order. */
    static void decode(long cursor, byte[] encoded, LongConsumer each) {
        long previous = cursor;
        int[] at = {0};
        while (at[0] < encoded.length) {
            long start = previous + 1 + readVarint(encoded, at);
            long end = start + readVarint(encoded, at);
            for (long seq = start; seq <= end; seq++) {
                each.accept(seq);
            }
            previous = end;
        }
    }

    private static void writeVarint(ByteArrayOutputStream out, long value) {
        long v = value;
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static long readVarint(byte[] in, int[] at) {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (at[0] >= in.length) {
                throw new IllegalArgumentException("a shared group's unsettled span ends inside a number");
            }
            byte b = in[at[0]++];
            value |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
        }
        throw new IllegalArgumentException("a shared group's unsettled span holds a number longer than 64 bits");
    }
}
