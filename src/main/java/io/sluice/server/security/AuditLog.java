package io.sluice.server.security;

import io.sluice.telemetry.JsonText;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code --audit-log FILE}: one JSON object per line for every admin call and every denial (SPEC §7):
 * time, principal, credential kind and id (never the secret), peer address, RPC, topic, group,
 * decision and status. Each line is written and flushed under a lock by the thread that decided (an
 * admin call's virtual thread, or the transport thread of a denied call); a write that fails is
 * logged and the call goes on. Without a file, nothing is written.
 */
final class AuditLog implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AuditLog.class.getName());

    /** One line's facts; null fields are written as empty strings. */
    record Entry(String principal, String credential, String credentialId, String peer, String rpc, String topic,
                 String group, String decision, String status) {
    }

    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final BufferedWriter out;   // guarded by lock; null: no audit log
    private boolean failedOnce;          // guarded by lock

    private AuditLog(Clock clock, BufferedWriter out) {
        this.clock = clock;
        this.out = out;
    }

    static AuditLog open(Path file, Clock clock) {
        if (file == null) {
            return new AuditLog(clock, null);
        }
        try {
            return new AuditLog(clock, Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the audit log " + file + ": " + e.getMessage(), e);
        }
    }

    boolean enabled() {
        return out != null;
    }

    void write(Entry e) {
        if (out == null) {
            return;
        }
        String line = "{\"time\":\"" + clock.instant() + "\""
                + field("principal", e.principal()) + field("credential", e.credential())
                + field("credential_id", e.credentialId()) + field("peer", e.peer()) + field("rpc", e.rpc())
                + field("topic", e.topic()) + field("group", e.group()) + field("decision", e.decision())
                + field("status", e.status()) + "}\n";
        lock.lock();
        try {
            out.write(line);
            out.flush();
        } catch (IOException x) {
            if (!failedOnce) {
                failedOnce = true;
                LOG.log(Level.ERROR, "cannot write the audit log (further failures are not logged): " + x);
            }
        } finally {
            lock.unlock();
        }
    }

    private static String field(String name, String value) {
        return ",\"" + name + "\":\"" + escape(value == null ? "" : value) + "\"";
    }

    /** The inside of a JSON string literal for {@code s}. */
    static String escape(String s) {
        String quoted = JsonText.quote(s);
        return quoted.substring(1, quoted.length() - 1);
    }

    @Override
    public void close() {
        if (out == null) {
            return;
        }
        lock.lock();
        try {
            out.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "closing the audit log: " + e);
        } finally {
            lock.unlock();
        }
    }
}
