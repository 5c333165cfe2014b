package io.sluice.domain;

import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Message ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version, 12 random bits,
 * the variant, and in the last 62 bits the message's global sequence, the "dedicated counter" of
 * RFC 9562 §6.2. Ids therefore sort like sequences, and an acknowledged id resolves to its row by
 * primary key, with no index on ids.
 */
public final class MessageIds {
    private static final long SEQUENCE_MASK = 0x3FFF_FFFF_FFFF_FFFFL;

    private MessageIds() {
    }

    /** A new id for the message stored at {@code sequence} at {@code timestampMs}. */
    public static UUID create(long timestampMs, long sequence) {
        return create(timestampMs, sequence, ThreadLocalRandom.current().nextInt(1 << 12));
    }

    /** As {@link #create(long, long)}, with the 12 random bits given ({@code randA}, 0 to 4095). */
    public static UUID create(long timestampMs, long sequence, int randA) {
        long msb = (timestampMs & 0xFFFF_FFFF_FFFFL) << 16 | 0x7000L | randA;
        long lsb = 0x8000_0000_0000_0000L | (sequence & SEQUENCE_MASK);
        return new UUID(msb, lsb);
    }

    /** The sequence an id names, or empty when the text is not a Sluice message id. */
    public static OptionalLong sequenceOf(String id) {
        return sequenceOf(parse(id));
    }

    /** The sequence a parsed id names, or empty when it is null or not a Sluice message id. */
    public static OptionalLong sequenceOf(UUID uuid) {
        if (uuid == null || uuid.version() != 7 || uuid.variant() != 2) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(uuid.getLeastSignificantBits() & SEQUENCE_MASK);
    }

    /** The canonical id text parsed, or null when it is not a UUID. */
    public static UUID parse(String id) {
        if (id == null || id.length() != 36) {
            return null;
        }
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    public static byte[] toBytes(UUID id) {
        byte[] b = new byte[16];
        long msb = id.getMostSignificantBits();
        long lsb = id.getLeastSignificantBits();
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (msb >>> (56 - 8 * i));
            b[8 + i] = (byte) (lsb >>> (56 - 8 * i));
        }
        return b;
    }

    public static UUID fromBytes(byte[] b) {
        long msb = 0;
        long lsb = 0;
        for (int i = 0; i < 8; i++) {
            msb = msb << 8 | (b[i] & 0xFF);
            lsb = lsb << 8 | (b[8 + i] & 0xFF);
        }
        return new UUID(msb, lsb);
    }
}
