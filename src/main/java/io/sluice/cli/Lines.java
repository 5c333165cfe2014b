package io.sluice.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The lines of {@code publish --batch} as bytes: each ends at {@code \n}, {@code \r\n} or {@code \r}
 * (as {@link java.io.BufferedReader#readLine()} ends them), and none is read past {@code max} bytes,
 * so one endless line cannot fill the memory. The bytes are not decoded: each message is its line as
 * it is. Used by one thread.
 */
final class Lines {
    /** A line longer than the limit; nothing of it was kept, nor anything after it read. */
    static final class TooLong extends RuntimeException {
        final long number;

        TooLong(long number, int max) {
            super("line " + number + " is longer than " + max + " bytes");
            this.number = number;
        }
    }

    private final InputStream in;
    private final int max;
    private final byte[] buffer = new byte[1 << 16];
    private int position;
    private int limit;
    private boolean afterCr;   // the last line ended at \r: a \n right after it belongs to that ending
    private long number;

    Lines(InputStream in, int max) {
        this.in = in;
        this.max = max;
    }

    /** The next line without its ending, or null at the end of the input; throws {@link TooLong}. */
    byte[] next() throws IOException {
        var line = new ByteArrayOutputStream();
        boolean any = false;
        while (true) {
            if (position == limit) {
                int n = in.read(buffer, 0, buffer.length);
                if (n < 0) {
                    if (!any) {
                        return null;
                    }
                    number++;
                    return line.toByteArray();
                }
                position = 0;
                limit = n;
                continue;
            }
            if (afterCr) {
                afterCr = false;
                if (buffer[position] == '\n') {
                    position++;
                    continue;
                }
            }
            any = true;
            int start = position;
            while (position < limit && buffer[position] != '\n' && buffer[position] != '\r') {
                position++;
            }
            if (line.size() + (position - start) > max) {
                throw new TooLong(number + 1, max);
            }
            line.write(buffer, start, position - start);
            if (position < limit) {
                afterCr = buffer[position] == '\r';
                position++;
                number++;
                return line.toByteArray();
            }
        }
    }

    /** True when every byte read is answered and the input has none ready: the next {@link #next()} would wait. */
    boolean caughtUp() throws IOException {
        return position == limit && in.available() == 0;
    }

    /** How many lines {@link #next()} has answered, empty ones included: the number of the last one. */
    long number() {
        return number;
    }
}
