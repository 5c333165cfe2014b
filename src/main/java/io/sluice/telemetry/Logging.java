package io.sluice.telemetry;

import io.sluice.store.Stores;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * One logging facility for the broker and its libraries (gRPC, the OpenTelemetry SDK and the
 * storage drivers all log to java.util.logging): one line per event on stderr, at the chosen level.
 */
public final class Logging {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private static final java.util.List<Logger> CONFIGURED = new java.util.ArrayList<>();

    private Logging() {
    }

    /** The level names accepted by {@code --log-level}. */
    public static final String LEVELS = "error, warn, info, debug, trace";

    /** Sends every log record at {@code level} or above to stderr, one line each. */
    public static void configure(String level) {
        Level jul = parse(level);
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Handler handler = new Console(jul.intValue() <= Level.FINE.intValue());
        handler.setLevel(jul);
        handler.setFormatter(new OneLine());
        root.addHandler(handler);
        root.setLevel(jul);
        // Libraries are chatty below INFO; our own code follows the chosen level.
        Level libraries = jul.intValue() < Level.INFO.intValue() ? Level.INFO : jul;
        keep("io.grpc").setLevel(libraries);
        keep("io.opentelemetry").setLevel(libraries);
        for (String driver : Stores.driverLoggers()) {
            keep(driver).setLevel(libraries);
        }
        keep("io.sluice").setLevel(jul);
        // gRPC's Netty handler logs a warning with a stack trace each time a client resets a stream
        // that was being written ("Stream closed before write could take place"): a client's doing,
        // never the broker's fault. Shown from debug on.
        keep("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler")
                .setLevel(jul.intValue() <= Level.FINE.intValue() ? libraries : Level.SEVERE);
    }

    /** The logger of that name, held here: the LogManager keeps loggers weakly, and a collected one forgets its level. */
    private static Logger keep(String name) {
        Logger l = Logger.getLogger(name);
        synchronized (CONFIGURED) {
            CONFIGURED.add(l);
        }
        return l;
    }

    /** Parses a level name; throws IllegalArgumentException naming the accepted ones. */
    public static Level parse(String level) {
        return switch (level.toLowerCase(Locale.ROOT)) {
            case "error" -> Level.SEVERE;
            case "warn", "warning" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> throw new IllegalArgumentException("unknown log level '" + level + "'; use one of " + LEVELS);
        };
    }

    /**
     * The console (stderr), where the libraries' lines are bounded: a client can make gRPC warn at
     * will (a message over the size limit, a frame it cannot parse), so each kind of line from a logger
     * outside the broker's own (its logger and message template) is written as {@link LogBurst}
     * allows, and a library's warning shows its cause's messages instead of a stack (kept for errors,
     * and for everything from debug on).
     */
    static final class Console extends ConsoleHandler {
        /** Kinds of library lines counted apart; beyond, they share one count. */
        private static final int MAX_KINDS = 1_000;

        private final boolean stacks;
        private final ConcurrentHashMap<String, LogBurst> bursts = new ConcurrentHashMap<>();
        private final LogBurst others = new LogBurst();

        Console(boolean stacks) {
            this.stacks = stacks;
        }

        @Override
        public void publish(LogRecord r) {
            String logger = r.getLoggerName();
            if (logger != null && logger.startsWith("io.sluice.") || !isLoggable(r)) {
                super.publish(r);
                return;
            }
            r = outOfMemoryAsWarning(r);
            String kind = logger + ": " + r.getMessage();
            LogBurst burst = bursts.size() < MAX_KINDS ? bursts.computeIfAbsent(kind, k -> new LogBurst())
                    : bursts.getOrDefault(kind, others);
            long skipped = burst.admit();
            if (skipped < 0) {
                return;
            }
            if (skipped > 0) {
                var summary = new LogRecord(r.getLevel(), LogBurst.summary(skipped, "lines like the next"));
                summary.setLoggerName(logger);
                super.publish(summary);
            }
            if (r.getThrown() != null && !stacks && r.getLevel().intValue() < Level.SEVERE.intValue()) {
                var brief = new LogRecord(r.getLevel(), getFormatter().formatMessage(r) + causes(r.getThrown()));
                brief.setLoggerName(logger);
                brief.setMillis(r.getMillis());
                r = brief;
            }
            super.publish(r);
        }

        /**
         * A library's line below WARNING whose cause is an OutOfMemoryError (gRPC logs a connection it
         * closed for want of direct memory at INFO), as a WARNING.
         */
        private static LogRecord outOfMemoryAsWarning(LogRecord r) {
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                return r;
            }
            for (Throwable t = r.getThrown(); t != null; t = t.getCause()) {
                if (t instanceof OutOfMemoryError) {
                    var warning = new LogRecord(Level.WARNING, r.getMessage());
                    warning.setParameters(r.getParameters());
                    warning.setThrown(r.getThrown());
                    warning.setLoggerName(r.getLoggerName());
                    warning.setInstant(r.getInstant());
                    return warning;
                }
            }
            return r;
        }

        /** ": the throwable; caused by: its cause; ..." on one line (up to five deep). */
        private static String causes(Throwable t) {
            var b = new StringBuilder();
            for (int depth = 0; t != null && depth < 5; t = t.getCause(), depth++) {
                b.append(depth == 0 ? ": " : "; caused by: ").append(t);
            }
            return b.toString();
        }
    }

    /** {@code time LEVEL logger: message}, and a cause's stack only when the record carries one. */
    static final class OneLine extends Formatter {
        @Override
        public String format(LogRecord r) {
            var b = new StringBuilder(128);
            b.append(TIME.format(Instant.ofEpochMilli(r.getMillis()))).append(' ')
                    .append(levelName(r.getLevel())).append(' ')
                    .append(shortName(r.getLoggerName())).append(": ")
                    .append(formatMessage(r).replace('\n', ' '))
                    .append(System.lineSeparator());
            if (r.getThrown() != null) {
                var sw = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(sw));
                b.append(sw);
            }
            return b.toString();
        }

        private static String levelName(Level l) {
            int v = l.intValue();
            if (v >= Level.SEVERE.intValue()) {
                return "ERROR";
            }
            if (v >= Level.WARNING.intValue()) {
                return "WARN ";
            }
            if (v >= Level.INFO.intValue()) {
                return "INFO ";
            }
            return v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
        }

        private static String shortName(String name) {
            if (name == null) {
                return "-";
            }
            int dot = name.lastIndexOf('.');
            return dot < 0 ? name : name.substring(dot + 1);
        }
    }
}
