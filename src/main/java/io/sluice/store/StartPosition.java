package io.sluice.store;

/** Where a new consumer group starts. The cursor is the last sequence considered consumed. */
public record StartPosition(Kind kind, long offset) {
    /** TIMESTAMP: {@code offset} is a time (Unix ms); the store finds the cursor ({@link Store#cursorAtTime}). */
    public enum Kind { EARLIEST, LATEST, OFFSET, TIMESTAMP }

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

    /** Delivery starts at the first message stamped at or after {@code timestampMillis}. */
    public static StartPosition atTime(long timestampMillis) {
        return new StartPosition(Kind.TIMESTAMP, timestampMillis);
    }

    /**
     * The cursor this position gives, for a topic whose last sequence is {@code lastSequence}; a
     * TIMESTAMP position needs the topic's messages and is answered by {@link Store#cursorAtTime}.
     */
    public long cursor(long lastSequence, java.util.function.LongUnaryOperator cursorAtTime) {
        return kind == Kind.TIMESTAMP ? cursorAtTime.applyAsLong(offset) : cursor(lastSequence);
    }

    /** The cursor this position gives, for a topic whose last sequence is {@code lastSequence}. */
    public long cursor(long lastSequence) {
        return switch (kind) {
            case EARLIEST -> 0;
            case LATEST -> lastSequence;
            case OFFSET -> offset <= 0 ? 0 : offset - 1;
            case TIMESTAMP -> throw new IllegalStateException("a TIMESTAMP position is found in the topic's messages");
        };
    }
}
