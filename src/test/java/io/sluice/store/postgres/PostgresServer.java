package io.sluice.store.postgres;

import io.sluice.store.StoreOptions;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server for tests: the binaries of the installed PostgreSQL package, a copy in a
 * temporary directory of a cluster initdb made once per JVM, a postmaster on a free loopback port with fsync and
 * synchronous_commit on. initdb refuses to run as root, so as root the cluster belongs to the
 * {@code postgres} user the package creates, and the server runs as that user. The server is a
 * child of the test JVM that dies with it ({@code setpriv --pdeathsig}), and is stopped at JVM exit.
 *
 * <p>{@link #shared()} is one server per test JVM; each test takes a fresh schema of it
 * ({@link #freshSchema()}), so tests never see each other's data. A test that stops and restarts
 * its server starts its own ({@link #startPrivate()}).
 */
public final class PostgresServer implements AutoCloseable {
    /** The role the tests connect as, with a password: the URL and password-file paths are exercised. */
    public static final String USER = "sluice";
    public static final String PASSWORD = "sluice-test-password";
    public static final String DATABASE = "sluice";
    private static final long START_DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(60);
    private static final AtomicInteger SCHEMAS = new AtomicInteger();
    private static PostgresServer shared;
    private static Path template;

    private final Path bin;
    private final Path home;
    private final Path data;
    private final boolean asPostgresUser;
    private int port;
    private Process process;

    private PostgresServer(Path bin, Path home, boolean asPostgresUser) {
        this.bin = bin;
        this.home = home;
        this.data = home.resolve("data");
        this.asPostgresUser = asPostgresUser;
    }

    /** The server shared by every test of this JVM, started on first use. */
    public static synchronized PostgresServer shared() {
        if (shared == null) {
            shared = startPrivate();
            PostgresServer s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::close, "postgres-stop"));
        }
        return shared;
    }

    /** A server of the caller's own (close it): for tests that stop and start it. */
    public static PostgresServer startPrivate() {
        Path bin = findBinaries();
        boolean root = "root".equals(System.getProperty("user.name"));
        try {
            Path cluster = template(bin, root);
            Path home = Files.createTempDirectory("sluice-pg-");
            var server = new PostgresServer(bin, home, root);
            server.own(home);
            run(List.of("cp", "-a", cluster.toString(), server.data.toString()));   // as it was made, owner included
            server.start(freePort());
            return server;
        } catch (IOException e) {
            throw new IllegalStateException("cannot set up a PostgreSQL cluster: " + e, e);
        }
    }

    /** The binaries of the installed PostgreSQL package: pg_config's, else the newest under /usr/lib/postgresql. */
    static Path findBinaries() {
        try {
            Process p = new ProcessBuilder("pg_config", "--bindir").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() == 0 && Files.isExecutable(Path.of(out, "initdb"))) {
                return Path.of(out);
            }
        } catch (IOException e) {
            // no pg_config on the PATH: look where the Debian package puts the binaries
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Path versions = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(versions)) {
            try (Stream<Path> dirs = Files.list(versions)) {
                var found = dirs.map(d -> d.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("initdb")))
                        .max(Comparator.comparingInt(b -> versionOf(b.getParent().getFileName().toString())));
                if (found.isPresent()) {
                    return found.get();
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot list " + versions + ": " + e, e);
            }
        }
        throw new IllegalStateException("no PostgreSQL server binaries found (pg_config --bindir, "
                + versions + "/*/bin): install the postgresql package (.ci/run does as root)");
    }

    private static int versionOf(String name) {
        try {
            return Integer.parseInt(name);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static int freePort() throws IOException {
        try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /**
     * The cluster initdb made once for this JVM, which every server copies (a copy takes a tenth of
     * initdb's time); removed at JVM exit.
     */
    private static synchronized Path template(Path bin, boolean root) throws IOException {
        if (template == null) {
            Path home = Files.createTempDirectory("sluice-pg-template-");
            var maker = new PostgresServer(bin, home, root);
            maker.initdb();
            Runtime.getRuntime().addShutdownHook(new Thread(maker::close, "postgres-template-remove"));
            template = maker.data;
        }
        return template;
    }

    /** Makes {@code dir} the server's own: the postgres user's when run as root, else private to this user. */
    private void own(Path dir) throws IOException {
        if (asPostgresUser) {
            run(List.of("chown", "-R", "postgres:postgres", dir.toString()));
        } else {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    private void initdb() throws IOException {
        Path pwfile = home.resolve("pwfile");
        Files.writeString(pwfile, PASSWORD + "\n");
        own(home);
        run(command(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", USER, "--pwfile", pwfile.toString(),
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-instructions"));
    }

    private void start(int onPort) throws IOException {
        this.port = onPort;
        var cmd = new ArrayList<String>();
        cmd.addAll(List.of("setpriv", "--pdeathsig", "KILL"));
        if (asPostgresUser) {
            cmd.addAll(List.of("--reuid=postgres", "--regid=postgres", "--init-groups"));
        }
        cmd.add("--");
        cmd.addAll(List.of(bin.resolve("postgres").toString(), "-D", data.toString(), "-p", Integer.toString(onPort),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + home,
                "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=300",
                "-c", "shared_buffers=64MB", "-c", "logging_collector=off", "-c", "log_min_messages=warning"));
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(home.resolve("server.log").toFile()).start();
        long deadline = System.nanoTime() + START_DEADLINE_NANOS;
        SQLException last = null;
        while (System.nanoTime() - deadline < 0) {
            if (!process.isAlive()) {
                throw new IllegalStateException("PostgreSQL exited at start: " + log());
            }
            try (Connection c = connect("postgres")) {
                createDatabaseOnce(c);
                return;
            } catch (SQLException e) {
                last = e;
            }
            try {
                process.waitFor(50, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while PostgreSQL started", e);
            }
        }
        throw new IllegalStateException("PostgreSQL did not accept connections within 60 s: " + last + "; " + log());
    }

    private void createDatabaseOnce(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
            if (!rs.next()) {
                st.execute("CREATE DATABASE " + DATABASE);
            }
        }
    }

    private Connection connect(String database) throws SQLException {
        var props = new Properties();
        props.setProperty("user", USER);
        props.setProperty("password", PASSWORD);
        props.setProperty("connectTimeout", "5");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, props);
    }

    /** The server's port on the loopback address. */
    public int port() {
        return port;
    }

    /** The URL of the test database, without credentials, in the form users write ({@code postgresql://}). */
    public String url() {
        return "postgresql://" + USER + "@127.0.0.1:" + port + "/" + DATABASE;
    }

    /** The URL of the test database with the schema to use as the store's ({@code currentSchema}). */
    public String url(String schema) {
        return url() + "?currentSchema=" + schema;
    }

    /** A new, empty schema of the test database, named for no other test. */
    public String freshSchema() {
        String schema = "t" + ProcessHandle.current().pid() + "_" + SCHEMAS.incrementAndGet();
        try (Connection c = connect(DATABASE); Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create schema " + schema + ": " + e, e);
        }
        return schema;
    }

    /** A store on {@code schema} of this server's database, with no commit observer; the caller closes it. */
    public PostgresStore openStore(String schema, StoreOptions options) {
        return PostgresStore.open(DatabaseUrl.parse(url(schema), PASSWORD, null), options, (ops, messages, nanos) -> { });
    }

    /** A connection to the test database as the tests' role, outside any store (to inspect or damage). */
    public Connection connectToDatabase() throws SQLException {
        return connect(DATABASE);
    }

    /**
     * A streaming-replication standby of this server: a pg_basebackup copy in a new temporary
     * directory, started on a new port (close it). The standby gets this server's data as it is now.
     */
    public PostgresServer startStandby() {
        try {
            Path standbyHome = Files.createTempDirectory("sluice-pg-standby-");
            var standby = new PostgresServer(bin, standbyHome, asPostgresUser);
            standby.own(standbyHome);
            run(command(bin.resolve("pg_basebackup").toString(), "-D", standby.data.toString(), "-R", "-X", "stream",
                    "-c", "fast", "-d", "host=127.0.0.1 port=" + port + " user=" + USER + " password=" + PASSWORD
                            + " application_name=standby"));
            standby.start(freePort());
            return standby;
        } catch (IOException e) {
            throw new IllegalStateException("cannot set up a standby: " + e, e);
        }
    }

    /**
     * Makes every commit here wait for a standby to have it (synchronous replication), and waits
     * until a standby is attached as synchronous. Set after the standby was copied, so a promoted
     * standby does not wait for a standby of its own.
     */
    public void requireSynchronousStandby() throws SQLException {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("ALTER SYSTEM SET synchronous_standby_names = '*'");
            st.execute("SELECT pg_reload_conf()");
            long deadline = System.nanoTime() + START_DEADLINE_NANOS;
            while (true) {
                try (var rs = st.executeQuery("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")) {
                    rs.next();
                    if (rs.getInt(1) > 0) {
                        return;
                    }
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("no synchronous standby attached within 60 s");
                }
                st.execute("SELECT pg_sleep(0.05)");
            }
        }
    }

    /** Kills the server at once (SIGKILL of the postmaster), as a machine that dies would. */
    public void kill() {
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Promotes this standby to a primary and waits until it accepts writes. */
    public void promote() throws SQLException {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("SELECT pg_promote(true, 60)");
        }
    }

    /** Fast shutdown (clients disconnected, everything committed kept); waits for the server to exit. */
    public void stop() {
        if (process == null || !process.isAlive()) {
            return;
        }
        try {
            run(List.of("kill", "-INT", Long.toString(process.pid())));
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (IOException | InterruptedException e) {
            process.destroyForcibly();
        }
    }

    /** Starts the stopped server again on the same port and data. */
    public void startAgain() {
        try {
            start(port);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start PostgreSQL again: " + e, e);
        }
    }

    /** Stops the server and removes its directory. */
    @Override
    public void close() {
        stop();
        try (Stream<Path> all = Files.walk(home)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }

    private String log() {
        try {
            return Files.readString(home.resolve("server.log"));
        } catch (IOException e) {
            return "(no server log: " + e + ")";
        }
    }

    private List<String> command(String... args) {
        var cmd = new ArrayList<String>();
        if (asPostgresUser) {
            cmd.addAll(List.of("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"));
        }
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static void run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
    }
}
