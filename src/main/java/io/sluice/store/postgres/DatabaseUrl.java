package io.sluice.store.postgres;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Where the PostgreSQL backend connects: a {@code postgresql://} (or {@code postgres://}) URL as
 * libpq writes it, or the JDBC driver's {@code jdbc:postgresql://} URL, turned into the driver's
 * URL and connection properties. Several hosts may be named ({@code host1:5432,host2:5432}); then
 * {@code targetServerType=primary} is the default, so a broker reconnects to whichever is the
 * primary after a failover. The password comes from the URL, else from the one given (a password
 * file), else from {@code PGPASSWORD}. {@link #display()} is the URL without any password, for logs.
 */
public record DatabaseUrl(String jdbcUrl, Properties properties, String display) {
    private static final Pattern SCHEME = Pattern.compile("^(jdbc:postgresql|postgresql|postgres)://(.*)$",
            Pattern.DOTALL);

    /**
     * Parses {@code url}; {@code password} (nullable) is used when the URL holds none, then
     * {@code environmentPassword} (nullable, PGPASSWORD). Throws IllegalArgumentException naming the problem.
     */
    public static DatabaseUrl parse(String url, String password, String environmentPassword) {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("the database URL is empty");
        }
        var m = SCHEME.matcher(url.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("the database URL must start with postgresql:// or jdbc:postgresql://, "
                    + "not " + redact(url));
        }
        String rest = m.group(2);
        String query = "";
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String user = null;
        String urlPassword = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String credentials = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = credentials.indexOf(':');
            user = decode(colon >= 0 ? credentials.substring(0, colon) : credentials);
            urlPassword = colon >= 0 ? decode(credentials.substring(colon + 1)) : null;
        }
        int slash = rest.indexOf('/');
        String hosts = slash >= 0 ? rest.substring(0, slash) : rest;
        String database = slash >= 0 ? decode(rest.substring(slash + 1)) : "";
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("the database URL names no host: " + redact(url));
        }
        var props = new Properties();
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = decode(eq >= 0 ? pair.substring(0, eq) : pair);
            String value = eq >= 0 ? decode(pair.substring(eq + 1)) : "";
            props.setProperty(key, value);
        }
        if (user != null && !user.isEmpty()) {
            props.setProperty("user", user);
        }
        if (urlPassword != null) {
            props.setProperty("password", urlPassword);
        } else if (!props.containsKey("password")) {
            if (password != null) {
                props.setProperty("password", password);
            } else if (environmentPassword != null && !environmentPassword.isEmpty()) {
                props.setProperty("password", environmentPassword);
            }
        }
        if (hosts.contains(",")) {
            props.putIfAbsent("targetServerType", "primary");
            // The driver remembers which host was a standby for this long (default 10 s): a promoted
            // standby is then found sooner after a failover.
            props.putIfAbsent("hostRecheckSeconds", "2");
        }
        // Bounded waits: a dead server or a lost network fails a connection attempt or a query
        // instead of holding the writer forever; keepalives find half-open connections.
        props.putIfAbsent("connectTimeout", "10");
        props.putIfAbsent("socketTimeout", "120");
        props.putIfAbsent("tcpKeepAlive", "true");
        props.putIfAbsent("ApplicationName", "sluice");
        // A lock another session holds (an operator's LOCK TABLE, a paused broker's open transaction)
        // fails a statement after this long, as UNAVAILABLE naming it, rather than holding the writer
        // until the socket timeout.
        props.putIfAbsent("options", "-c lock_timeout=" + PgErrors.LOCK_WAIT);
        // The writer's batches of inserts go to the server as multi-row INSERTs.
        props.putIfAbsent("reWriteBatchedInserts", "true");
        String jdbc = "jdbc:postgresql://" + hosts + "/" + database;
        String shown = "postgresql://" + (user != null ? user + "@" : "") + hosts + "/" + database
                + (props.containsKey("currentSchema") ? "?currentSchema=" + props.getProperty("currentSchema") : "");
        return new DatabaseUrl(jdbc, props, shown);
    }

    /** The URL without its password: a record's default text would print the properties, password included. */
    @Override
    public String toString() {
        return display;
    }

    /** The schema the store's tables live in: the URL's {@code currentSchema}, else null (the server's search path). */
    public String schema() {
        return properties.getProperty("currentSchema");
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The URL with any password replaced, for messages. */
    static String redact(String url) {
        return url.replaceAll("(://[^:/@]*):[^@/]*@", "$1:***@").replaceAll("(?i)(password=)[^&]*", "$1***");
    }
}
