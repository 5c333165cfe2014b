package io.sluice.delivery;

/**
 * A stream's delivery credit: grants add (saturating, never wrapping), each delivery spends one.
 * Not thread-safe by itself: guarded by its subscription's lock.
 */
final class Credit {
    private long available;

    /** Adds {@code credits}, an unsigned 32-bit grant; 0 changes nothing. */
    void grant(int credits) {
        long n = Integer.toUnsignedLong(credits);
        available = n > Long.MAX_VALUE - available ? Long.MAX_VALUE : available + n;
    }

    void spend() {
        if (available <= 0) {
            throw new IllegalStateException("a delivery without credit");
        }
        available--;
    }

    long available() {
        return available;
    }
}
