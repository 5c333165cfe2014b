package io.sluice.cli;

import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine;

/** Parses durations such as {@code 0}, {@code 500ms}, {@code 10s}, {@code 2m}, {@code 6h}, {@code 7d}, or ISO-8601 ({@code PT10S}). */
final class Durations implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        Duration d = parseSigned(value);
        if (d == null) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (e.g. 500ms, 10s, 2m)");
        }
        if (d.isNegative()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is negative; a duration is 0 or more");
        }
        try {
            d.toNanos();
        } catch (ArithmeticException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too long; a duration is at most "
                    + "106751d (292 years)");
        }
        return d;
    }

    /** The duration {@code value} names, or null when it names none or a negative one (no option takes one). */
    static Duration parse(String value) {
        Duration d = parseSigned(value);
        return d == null || d.isNegative() ? null : d;
    }

    /**
     * {@code d} as a user types it: in its largest whole unit ({@code 7d}, {@code 6h}, {@code 90s},
     * {@code 250ms}), {@code 0} for none; ISO-8601 for what is finer than a millisecond.
     */
    static String format(Duration d) {
        if (d.isZero()) {
            return "0";
        }
        if (d.toNanosPart() % 1_000_000 != 0) {
            return d.toString();
        }
        long ms = d.toMillis();
        long[] sizes = {86_400_000L, 3_600_000L, 60_000L, 1000L};
        String[] units = {"d", "h", "m", "s"};
        for (int i = 0; i < sizes.length; i++) {
            if (ms % sizes[i] == 0) {
                return ms / sizes[i] + units[i];
            }
        }
        return ms + "ms";
    }

    private static Duration parseSigned(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        try {
            if (v.startsWith("pt") || v.startsWith("p")) {
                return Duration.parse(value.trim().toUpperCase(Locale.ROOT));
            }
            if (v.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
            }
            if (v.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.endsWith("h")) {
                return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.endsWith("d")) {
                return Duration.ofDays(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.equals("0")) {
                return Duration.ZERO;
            }
        } catch (RuntimeException e) {
            return null;
        }
        return null;
    }
}
