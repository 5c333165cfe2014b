package io.sluice.server;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what the broker (and the libraries it runs on) log at SEVERE (System.Logger ERROR) and
 * WARNING while it is installed on the root logger: expected client errors must not be logged as
 * errors, and recurring trouble must not flood the log.
 */
final class LogRecorder extends Handler implements AutoCloseable {
    private final List<LogRecord> severe = new CopyOnWriteArrayList<>();
    private final List<LogRecord> warnings = new CopyOnWriteArrayList<>();

    static LogRecorder install() {
        var r = new LogRecorder();
        r.setLevel(Level.WARNING);
        Logger.getLogger("").addHandler(r);
        return r;
    }

    @Override
    public void publish(LogRecord record) {
        if (record.getLoggerName() != null && record.getLoggerName().endsWith("ManagedChannelOrphanWrapper")) {
            return;   // a client channel some test left open, found by the GC: not the broker's doing
        }
        if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
            severe.add(record);
        } else if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
            warnings.add(record);
        }
    }

    /** How many WARNING records of {@code logger} contain {@code fragment}. */
    long warnings(String logger, String fragment) {
        return warnings.stream().filter(r -> r.getLoggerName().equals(logger) && r.getMessage() != null
                && r.getMessage().contains(fragment)).count();
    }

    /** The SEVERE records so far, each as "logger: message (thrown)". */
    List<String> severe() {
        return severe.stream().map(r -> r.getLoggerName() + ": " + r.getMessage()
                + (r.getThrown() != null ? " (" + r.getThrown() + ")" : "")).toList();
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        Logger.getLogger("").removeHandler(this);
    }
}
