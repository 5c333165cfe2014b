package io.sluice.store;

/**
 * A shared database to keep the data in, as configured: the URL as given ({@code --database-url})
 * and a password read from a file (null: the URL's own, else the environment's). {@link Stores}
 * checks it and picks the backend that speaks it; the URL may hold a password, so {@link #toString()}
 * never shows it.
 */
public record DatabaseTarget(String url, String password) {
    public DatabaseTarget {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("the database URL is empty");
        }
    }

    @Override
    public String toString() {
        try {
            return "DatabaseTarget[" + Stores.describe(this) + "]";
        } catch (IllegalArgumentException e) {
            return "DatabaseTarget[a URL no backend speaks]";
        }
    }
}
