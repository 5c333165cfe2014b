package io.sluice.server;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what the broker (and the libraries it runs on) log at SEVERE, i.e. System.Logger ERROR,
 * while it is installed on the root logger: expected client errors must not be logged as errors.
 */
final class LogRecorder extends Handler implements AutoCloseable {
    private final List<LogRecord> severe = new CopyOnWriteArrayList<>();

    static LogRecorder install() {
        var r = new LogRecorder();
        r.setLevel(Level.SEVERE);
        Logger.getLogger("").addHandler(r);
        return r;
    }

    @Override
    public void publish(LogRecord record) {
        if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
            severe.add(record);
        }
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
