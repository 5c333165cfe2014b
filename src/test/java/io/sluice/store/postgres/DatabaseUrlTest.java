package io.sluice.store.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The database URL forms of SPEC §6, and where the password comes from. */
class DatabaseUrlTest {
    @Test
    void aLibpqUrlBecomesTheDriversUrlWithUserAndPasswordAsProperties() {
        var url = DatabaseUrl.parse("postgresql://app:s%40cret@db.example:5433/sluice?sslmode=require", null, null);
        assertEquals("jdbc:postgresql://db.example:5433/sluice", url.jdbcUrl());
        assertEquals("app", url.properties().getProperty("user"));
        assertEquals("s@cret", url.properties().getProperty("password"));
        assertEquals("require", url.properties().getProperty("sslmode"));
        assertFalse(url.display().contains("s@cret") || url.toString().contains("s@cret"), url.display());
        assertNull(url.properties().getProperty("targetServerType"), "one host: no server type imposed");
    }

    @Test
    void severalHostsDefaultToThePrimary() {
        var url = DatabaseUrl.parse("jdbc:postgresql://h1:5432,h2:5432/sluice", null, null);
        assertEquals("jdbc:postgresql://h1:5432,h2:5432/sluice", url.jdbcUrl());
        assertEquals("primary", url.properties().getProperty("targetServerType"));
        var chosen = DatabaseUrl.parse("postgres://h1,h2/db?targetServerType=preferPrimary", null, null);
        assertEquals("preferPrimary", chosen.properties().getProperty("targetServerType"), "the URL's choice wins");
    }

    @Test
    void thePasswordComesFromTheUrlThenThePasswordFileThenPgpassword() {
        assertEquals("in-url", DatabaseUrl.parse("postgresql://u:in-url@h/db", "file", "env")
                .properties().getProperty("password"));
        assertEquals("file", DatabaseUrl.parse("postgresql://u@h/db", "file", "env")
                .properties().getProperty("password"));
        assertEquals("env", DatabaseUrl.parse("postgresql://u@h/db", null, "env")
                .properties().getProperty("password"));
        assertNull(DatabaseUrl.parse("postgresql://u@h/db", null, null).properties().getProperty("password"));
    }

    @Test
    void otherSchemesAndMissingHostsAreRefusedWithoutShowingThePassword() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> DatabaseUrl.parse("mysql://u:topsecret@h/db", null, null));
        assertTrue(e.getMessage().contains("postgresql://") && !e.getMessage().contains("topsecret"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DatabaseUrl.parse("postgresql:///db", null, null));
        assertThrows(IllegalArgumentException.class, () -> DatabaseUrl.parse(" ", null, null));
    }

    @Test
    void aHostWithoutAnAddressIsNamedInTheFailure() {
        var failed = new java.sql.SQLException("The connection attempt failed.", "08001",
                new java.net.UnknownHostException("no-such-host.invalid"));
        org.junit.jupiter.api.Assertions.assertEquals("The connection attempt failed. (no address found for the host "
                + "no-such-host.invalid) [08001]", PgErrors.describe(failed));
    }
}
