package io.sluice.store;

/** Where a new consumer group starts. The cursor is the last sequence considered consumed. */
public record StartPosition(Kind kind, long offset) {
    public enum Kind { EARLIEST, LATEST, OFFSET }

    public static StartPosition earliest() {
        return new StartPosition(Kind.EARLIEST, 0);
    }

    public static StartPosition latest() {
        return new StartPosition(Kind.LATEST, 0);
    }

    /** Delivery starts at {@code sequence} (or the first message after it); unsigned values past the signed range clamp. */
    public static StartPosition at(long sequence) {
        return new StartPosition(Kind.OFFSET, sequence < 0 ? Long.MAX_VALUE : sequence);
    }

    /** The cursor this position gives, for a topic whose last sequence is {@code lastSequence}. */
    public long cursor(long lastSequence) {
        return switch (kind) {
            case EARLIEST -> 0;
            case LATEST -> lastSequence;
            case OFFSET -> offset <= 0 ? 0 : offset - 1;
        };
    }
}
