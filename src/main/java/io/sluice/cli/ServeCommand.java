package io.sluice.cli;

import io.grpc.netty.shaded.io.netty.util.ResourceLeakDetector;
import io.sluice.domain.Attributes;
import io.sluice.server.ServerConfig;
import io.sluice.server.SluiceServer;
import io.sluice.server.Version;
import io.sluice.store.DatabaseTarget;
import io.sluice.store.StoreOptions;
import io.sluice.store.Stores;
import io.sluice.store.TopicConfig;
import io.sluice.telemetry.Logging;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;
import sun.misc.Signal;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code sluice serve}: runs the broker until SIGTERM or SIGINT, then stops gracefully and exits 0.
 * Every flag also reads an environment variable, named in {@code --help}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the broker. Every option also reads the environment variable shown.")
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--host", defaultValue = "${env:SLUICE_HOST:-0.0.0.0}", paramLabel = "ADDR",
            description = "Address to listen on (env SLUICE_HOST, default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "${env:SLUICE_PORT:-50051}", paramLabel = "PORT",
            description = "gRPC port; 0 picks a free one (env SLUICE_PORT, default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--metrics-port", defaultValue = "${env:SLUICE_METRICS_PORT:-9090}", paramLabel = "PORT",
            description = "Prometheus endpoint port (/metrics); 0 turns it off "
                    + "(env SLUICE_METRICS_PORT, default ${DEFAULT-VALUE}).")
    int metricsPort;

    @Option(names = "--data-dir", defaultValue = "${env:SLUICE_DATA_DIR:-./sluice-data}", paramLabel = "DIR",
            description = "Directory of the database (env SLUICE_DATA_DIR, default ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--database-url", defaultValue = "${env:SLUICE_DATABASE_URL}", paramLabel = "URL",
            description = "Keep the data in PostgreSQL 14+ instead of SQLite in --data-dir: "
                    + "postgresql://user@host:5432/db or jdbc:postgresql://..., several hosts allowed "
                    + "(host1:5432,host2:5432); any number of brokers may share one database, see docs/postgres.md "
                    + "(env SLUICE_DATABASE_URL, default off: SQLite).")
    String databaseUrl;

    @Option(names = "--database-password-file", defaultValue = "${env:SLUICE_DATABASE_PASSWORD_FILE}",
            paramLabel = "FILE", description = "File holding the database password, used when the URL holds none; "
                    + "without it PGPASSWORD is used (env SLUICE_DATABASE_PASSWORD_FILE, default none).")
    Path databasePasswordFile;

    @Option(names = "--log-level", defaultValue = "${env:SLUICE_LOG_LEVEL:-info}", paramLabel = "LEVEL",
            description = "One of " + Logging.LEVELS + " (env SLUICE_LOG_LEVEL, default ${DEFAULT-VALUE}).")
    String logLevel;

    @Option(names = "--max-message-bytes", defaultValue = "${env:SLUICE_MAX_MESSAGE_BYTES:-4194304}",
            paramLabel = "BYTES", description = "Largest payload accepted "
                    + "(env SLUICE_MAX_MESSAGE_BYTES, default ${DEFAULT-VALUE}).")
    int maxMessageBytes;

    @Option(names = "--max-batch-bytes", defaultValue = "${env:SLUICE_MAX_BATCH_BYTES:-16777216}",
            paramLabel = "BYTES", description = "Largest BatchPublish, payloads and attributes together "
                    + "(env SLUICE_MAX_BATCH_BYTES, default ${DEFAULT-VALUE}).")
    int maxBatchBytes;

    @Option(names = "--max-batch-messages", defaultValue = "${env:SLUICE_MAX_BATCH_MESSAGES:-10000}",
            paramLabel = "N", description = "Most messages in one BatchPublish, at most 50000 "
                    + "(env SLUICE_MAX_BATCH_MESSAGES, default ${DEFAULT-VALUE}).")
    int maxBatchMessages;

    @Option(names = "--max-queued-bytes", defaultValue = "${env:SLUICE_MAX_QUEUED_BYTES:-0}", paramLabel = "BYTES",
            description = "Memory budget: most bytes of publishes held between their reading and their answer "
                    + "(past it publishers wait), and apart, of messages subscribers' streams hold between their "
                    + "reading and the client's (past it streams wait). 0 = a quarter of the heap, at least 16 MiB "
                    + "(env SLUICE_MAX_QUEUED_BYTES, default ${DEFAULT-VALUE}).")
    long maxQueuedBytes;

    @Option(names = "--max-groups-per-topic", defaultValue = "${env:SLUICE_MAX_GROUPS_PER_TOPIC:-10000}",
            paramLabel = "N", description = "Most consumer groups on one topic; a new one past it is refused "
                    + "(env SLUICE_MAX_GROUPS_PER_TOPIC, default ${DEFAULT-VALUE}).")
    int maxGroupsPerTopic;

    @Option(names = "--max-topics", defaultValue = "${env:SLUICE_MAX_TOPICS:-0}", paramLabel = "N",
            description = "Most topics the broker (or, on PostgreSQL, its database) holds; creating one more is "
                    + "refused. Each costs about 1.2 KB of heap. 0 = one per 4 KiB of heap, at least 1000 "
                    + "(env SLUICE_MAX_TOPICS, default ${DEFAULT-VALUE}).")
    int maxTopics;

    @Option(names = "--writer-queue", defaultValue = "${env:SLUICE_WRITER_QUEUE:-8192}", paramLabel = "N",
            description = "Writes that may wait for the writer before publishers block "
                    + "(env SLUICE_WRITER_QUEUE, default ${DEFAULT-VALUE}).")
    int writerQueue;

    @Option(names = "--heartbeat", defaultValue = "${env:SLUICE_HEARTBEAT:-10s}", paramLabel = "DURATION",
            converter = Durations.class, description = "Heartbeat interval on idle subscriptions, e.g. 10s, 500ms "
                    + "(env SLUICE_HEARTBEAT, default ${DEFAULT-VALUE}).")
    Duration heartbeat;

    @Option(names = "--shutdown-grace", defaultValue = "${env:SLUICE_SHUTDOWN_GRACE:-10s}", paramLabel = "DURATION",
            converter = Durations.class, description = "How long calls in flight may finish at shutdown "
                    + "(env SLUICE_SHUTDOWN_GRACE, default ${DEFAULT-VALUE}).")
    Duration shutdownGrace;

    @Option(names = "--otel-endpoint", defaultValue = "${env:OTEL_EXPORTER_OTLP_ENDPOINT}", paramLabel = "URL",
            description = "OTLP/HTTP collector base URL, e.g. http://localhost:4318: metrics and traces are also "
                    + "pushed there (env OTEL_EXPORTER_OTLP_ENDPOINT, default off).")
    String otlpEndpoint;

    @Option(names = "--retention-max-age", defaultValue = "${env:SLUICE_RETENTION_MAX_AGE:-0}",
            paramLabel = "DURATION", converter = Durations.class, description = "Topics created by a publish or "
                    + "subscribe keep messages at most this long, e.g. 7d; 0 = no limit "
                    + "(env SLUICE_RETENTION_MAX_AGE, default ${DEFAULT-VALUE}).")
    Duration retentionMaxAge;

    @Option(names = "--retention-max-bytes", defaultValue = "${env:SLUICE_RETENTION_MAX_BYTES:-0}",
            paramLabel = "BYTES", description = "Their most payload and attribute bytes; 0 = no limit "
                    + "(env SLUICE_RETENTION_MAX_BYTES, default ${DEFAULT-VALUE}).")
    long retentionMaxBytes;

    @Option(names = "--retention-max-messages", defaultValue = "${env:SLUICE_RETENTION_MAX_MESSAGES:-0}",
            paramLabel = "N", description = "Their most messages; 0 = no limit "
                    + "(env SLUICE_RETENTION_MAX_MESSAGES, default ${DEFAULT-VALUE}).")
    long retentionMaxMessages;

    @Option(names = "--retention-discard", defaultValue = "${env:SLUICE_RETENTION_DISCARD:-old}",
            paramLabel = "old|new", description = "At a limit: old removes the oldest messages, new refuses the "
                    + "publish (env SLUICE_RETENTION_DISCARD, default ${DEFAULT-VALUE}).")
    String retentionDiscard;

    @Option(names = "--dedup-window", defaultValue = "${env:SLUICE_DEDUP_WINDOW:-2m}", paramLabel = "DURATION",
            converter = Durations.class, description = "How long a publish's dedup_id is remembered in topics "
                    + "that do not set their own (env SLUICE_DEDUP_WINDOW, default ${DEFAULT-VALUE}).")
    Duration dedupWindow;

    @CommandLine.Mixin
    SecurityOptions security = new SecurityOptions();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;   // usage errors go to the command line's own writers

    @Override
    public Integer call() throws InterruptedException {
        if (port != 0 && port == metricsPort) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--port and --metrics-port are both " + port
                    + ": the metrics endpoint needs a port of its own (--metrics-port 0 turns it off)");
        }
        String file = security.fileProblem();
        if (file != null) {
            throw new CommandFailure(file);
        }
        if (maxQueuedBytes < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--max-queued-bytes must be 0 (a quarter of the heap) or positive, not " + maxQueuedBytes);
        }
        String heap = heapProblem(maxBatchBytes, maxQueuedBytes, Runtime.getRuntime().maxMemory());
        if (heap != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), heap);
        }
        try {
            Logging.parse(logLevel);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--log-level (env SLUICE_LOG_LEVEL): "
                    + e.getMessage());
        }
        Logging.configure(logLevel);
        quietJdkDebug(Logging.parse(logLevel));
        // Netty's default leak detection captures a stack trace for one buffer in 128: a few hundred
        // a second under load, for buffers the broker never handles itself (gRPC owns them all).
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        ServerConfig config;
        try {
            config = new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes,
                    writerQueue, heartbeat, shutdownGrace,
                    StoreOptions.defaults().withMaxGroupsPerTopic(maxGroupsPerTopic)
                            .withMaxTopics(maxTopics > 0 ? maxTopics : StoreOptions.defaultMaxTopics())
                            .withTopicDefaults(retentionDefaults())
                            .withDedupWindow(positive("--dedup-window", dedupWindow)), otlpEndpoint, maxBatchMessages,
                    maxQueuedBytes > 0 ? maxQueuedBytes : ServerConfig.defaultMaxQueuedBytes(), database());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (config.database() != null && (spec.commandLine().getParseResult().hasMatchedOption("--data-dir")
                || System.getenv("SLUICE_DATA_DIR") != null)) {
            System.getLogger(ServeCommand.class.getName()).log(System.Logger.Level.WARNING, "--data-dir "
                    + dataDir + " is not used: the data is in the PostgreSQL database of --database-url");
        }
        var stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());

        long started = System.nanoTime();
        Thread.setDefaultUncaughtExceptionHandler(ServeCommand::uncaught);
        SluiceServer server = SluiceServer.start(config, security.config());
        // SIGHUP asks for a reload, as with any daemon; it never stops the broker, even with nothing to reload.
        Signal.handle(new Signal("HUP"), s -> {
            if (server.security().reloadable()) {
                server.security().reload();
            } else {
                System.getLogger(ServeCommand.class.getName()).log(System.Logger.Level.WARNING,
                        "SIGHUP: nothing to reload (no TLS certificates or auth file in use); the broker goes on");
            }
        });
        // Any other way out (System.exit elsewhere, a signal not handled here) still closes the database.
        Thread hook = Thread.ofPlatform().name("sluice-shutdown").unstarted(server::close);
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.println(banner(server, (System.nanoTime() - started) / 1_000_000));
        System.out.flush();

        // A broker whose writer stopped cannot acknowledge anything again: it stops and exits non-zero,
        // so a supervisor restarts it, rather than limp on answering every write with an error.
        var fatal = new AtomicReference<String>();
        server.onFatal(reason -> {
            fatal.set(reason);
            stop.countDown();
        });

        stop.await();
        String reason = fatal.get();
        if (reason != null) {
            System.err.println("sluice: stopping with exit code " + EXIT_FATAL + ": " + reason);
            haltIfStuck(server.config().shutdownGrace().plusSeconds(30));
        }
        server.close();
        return reason == null ? 0 : EXIT_FATAL;
    }

    /**
     * From debug on, the JDK logs each process it starts (sqlite-jdbc runs uname to pick its native
     * library) and each Runtime.exit, with a stack trace ("RuntimeException: ProcessBuilder.start()
     * debug"): noise that reads like a failure. Those two loggers stay at INFO, as the libraries do.
     */
    /**
     * Why limits this heap cannot hold are refused, or null when they fit: a batch is held several
     * times over while it is parsed and stored (a third of the heap at most), and the publish and
     * delivery budgets each up to {@code --max-queued-bytes} (half of it at most; 0 = the default).
     */
    static String heapProblem(long maxBatchBytes, long maxQueuedBytes, long heapBytes) {
        long framing = 2L << 20;
        if (maxBatchBytes + framing > heapBytes / 3) {
            return "--max-batch-bytes " + maxBatchBytes + " is too large for this heap (" + heapBytes / (1 << 20)
                    + " MiB): a batch is held several times over while it is stored, so the heap allows at most "
                    + Math.max(0, heapBytes / 3 - framing) + "; lower it, or give the JVM more heap (-Xmx)";
        }
        if (maxQueuedBytes > heapBytes / 2) {
            return "--max-queued-bytes " + maxQueuedBytes + " is more than half of this heap (" + heapBytes / (1 << 20)
                    + " MiB): publishes and deliveries may each hold that much; lower it, or give the JVM more heap "
                    + "(-Xmx)";
        }
        return null;
    }

    private static void quietJdkDebug(Level level) {
        Level quiet = level.intValue() < Level.INFO.intValue() ? Level.INFO : level;
        JDK_LOGGERS.forEach(l -> l.setLevel(quiet));
    }

    /** Held here: the LogManager keeps loggers weakly, and a logger collected forgets its level. */
    private static final List<Logger> JDK_LOGGERS =
            List.of(Logger.getLogger("java.lang.ProcessBuilder"), Logger.getLogger("java.lang.Runtime"));

    /** The configuration of topics created by a publish or a subscribe, from the --retention-* flags. */
    private TopicConfig retentionDefaults() {
        TopicConfig.Discard discard = switch (retentionDiscard.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "old" -> TopicConfig.Discard.OLD;
            case "new" -> TopicConfig.Discard.NEW;
            default -> throw new CommandLine.ParameterException(spec.commandLine(),
                    "--retention-discard must be old or new, not '" + retentionDiscard + "'");
        };
        if (retentionMaxBytes < 0 || retentionMaxMessages < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--retention-max-bytes and --retention-max-messages are 0 or positive");
        }
        return new TopicConfig(retentionMaxAge.toMillis(), retentionMaxBytes, retentionMaxMessages, discard, 0);
    }

    private long positive(String flag, Duration d) {
        if (d.toMillis() < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), flag + " must be at least 1ms, not " + d);
        }
        return d.toMillis();
    }

    /** The PostgreSQL database asked for, or null for SQLite; a bad URL or unreadable password file fails here. */
    private DatabaseTarget database() {
        if (databaseUrl != null && databaseUrl.isBlank()) {
            // An empty value is a mistake (an unset secret, an empty variable): never a silent SQLite broker
            // whose acknowledged messages other brokers on the database would never see.
            throw new CommandFailure("--database-url is empty (is SLUICE_DATABASE_URL set to an empty value?): give "
                    + "a PostgreSQL URL, or leave both out to keep the data in SQLite in --data-dir");
        }
        if (databaseUrl == null) {
            if (databasePasswordFile != null) {
                throw new CommandFailure("--database-password-file needs --database-url (or SLUICE_DATABASE_URL)");
            }
            return null;
        }
        String password = null;
        String unreadable = SecurityOptions.unreadable("--database-password-file", databasePasswordFile);
        if (unreadable != null) {
            throw new CommandFailure(unreadable);
        }
        if (databasePasswordFile != null) {
            try {
                password = Files.readString(databasePasswordFile).strip();
            } catch (IOException e) {
                throw new CommandFailure("cannot read the database password file " + databasePasswordFile + ": " + e);
            }
        }
        try {
            var target = new DatabaseTarget(databaseUrl, password);
            Stores.describe(target);   // a URL no backend speaks fails here, before anything starts
            return target;
        } catch (IllegalArgumentException e) {
            throw new CommandFailure("--database-url: " + e.getMessage());
        }
    }

    /** Exit code of a broker that stopped because it could not go on (EX_SOFTWARE). */
    static final int EXIT_FATAL = 70;

    /**
     * A thread that ran out of heap and let the error go (the metrics server's, the transport's) would
     * leave a broker half alive, its heap full, answering nothing; it stops at once instead, as one
     * whose writer stopped (what was acknowledged is on disk already). Other errors are printed as the
     * JVM prints them.
     */
    private static void uncaught(Thread thread, Throwable error) {
        if (error instanceof OutOfMemoryError) {
            try {
                System.err.println("sluice: stopping with exit code " + EXIT_FATAL + ": out of memory in thread "
                        + thread.getName() + " (" + error.getMessage() + ")");
            } catch (Throwable alsoOutOfMemory) {
                // nothing more can be said
            }
            Runtime.getRuntime().halt(EXIT_FATAL);
        }
        System.err.print("Exception in thread \"" + thread.getName() + "\" ");
        error.printStackTrace(System.err);
    }

    /** After a fatal error the JVM may be short of memory: if closing takes longer than {@code limit}, halt. */
    private static void haltIfStuck(Duration limit) {
        Thread.ofPlatform().daemon().name("sluice-fatal-watchdog").start(() -> {
            try {
                Thread.sleep(limit);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("sluice: closing took longer than " + limit.toSeconds() + " s after a fatal error; "
                    + "halting");
            Runtime.getRuntime().halt(EXIT_FATAL);
        });
    }

    private static String banner(SluiceServer server, long startMillis) {
        ServerConfig c = server.config();
        String metrics = c.metricsPort() == 0 ? "metrics off"
                : "metrics on http://" + server.security().metricsHost(c.host()) + ":" + c.metricsPort() + "/metrics";
        return "sluice " + Version.get() + " serving gRPC on " + c.host() + ":" + server.port()
                + ", " + metrics + ", " + server.security().describe()
                + ", data in " + (c.database() != null ? Stores.describe(c.database())
                        : server.config().dataDir().toAbsolutePath().normalize())
                + ", limits: message " + c.maxMessageBytes() + " B, batch " + c.maxBatchBytes()
                + " B or " + c.maxBatchMessages() + " messages, attributes " + Attributes.MAX_TOTAL_BYTES
                + " B, writer queue " + c.writerQueue() + ", publishes held " + c.maxQueuedBytes() + " B"
                + " (started in " + startMillis + " ms)";
    }
}
