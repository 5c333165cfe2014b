package io.sluice.cli;

import picocli.CommandLine;

/** Parses a sequence: an unsigned 64-bit number, 0 to 18446744073709551615, as the protocol carries it. */
final class Sequences implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        Long sequence = parse(value);
        if (sequence == null) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a sequence (0 to "
                    + Long.toUnsignedString(-1L) + ")");
        }
        return sequence;
    }

    /** The sequence {@code value} names (its unsigned bits), or null when it names none. */
    static Long parse(String value) {
        if (value.isEmpty() || !Character.isDigit(value.charAt(0))) {
            return null;   // no sign: "-1" is not the largest sequence
        }
        try {
            return Long.parseUnsignedLong(value);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
