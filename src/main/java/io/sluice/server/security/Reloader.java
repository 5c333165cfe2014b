package io.sluice.server.security;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Re-reads the security files when they change and on request (SIGHUP). One platform thread,
 * {@code sluice-security-reload}, wakes every interval (or at once when {@link #requestReload} signals
 * it), hashes each watched group of files and runs the group's reload when the hash changed (or on
 * request, always). A reload that fails is logged with its reason; what was loaded before stays in use,
 * and the same broken content is not retried until it changes again.
 */
final class Reloader implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Reloader.class.getName());
    /** Larger files are not read to tell whether they changed (every file watched here is far smaller). */
    private static final long MAX_HASHED_BYTES = 8L << 20;

    /** Reads a group of files and installs what it read; throws naming the problem to keep the old. */
    interface Load {
        void run() throws IOException;
    }

    private record Watched(String what, List<Path> files, Load load, byte[][] seen) {
    }

    private final List<Watched> watched = new ArrayList<>();
    private final long intervalNanos;
    private volatile Runnable afterEachPass = () -> { };
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private boolean requested;   // guarded by lock
    private boolean closed;      // guarded by lock
    private long reloads;        // guarded by lock: completed passes that were requested
    private long loads;          // guarded by lock: groups loaded since start, by either way
    private Thread thread;

    /** Runs {@code check} after every pass over the files (on the reloader's thread); set before start. */
    void afterEachPass(Runnable check) {
        this.afterEachPass = check;
    }

    Reloader(Duration interval) {
        this.intervalNanos = interval.toNanos();
    }

    /** Adds a group of files; call before {@link #start}. Its current content counts as loaded. */
    void watch(String what, List<Path> files, Load load) {
        watched.add(new Watched(what, files, load, new byte[][] {fingerprint(files)}));
    }

    void start() {
        if (watched.isEmpty()) {
            return;
        }
        thread = Thread.ofPlatform().daemon().name("sluice-security-reload").start(this::run);
    }

    /** Asks for a reload of every group now (SIGHUP); answers at once. Returns the pass count to wait for. */
    long requestReload() {
        lock.lock();
        try {
            requested = true;
            wake.signalAll();
            return reloads + 1;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until requested pass {@code pass} has run; false when the deadline passed first. */
    boolean awaitReload(long pass, Duration deadline) throws InterruptedException {
        long left = deadline.toNanos();
        lock.lock();
        try {
            while (reloads < pass && !closed) {
                if (left <= 0) {
                    return false;
                }
                left = wake.awaitNanos(left);
            }
            return reloads >= pass;
        } finally {
            lock.unlock();
        }
    }

    /** Groups loaded since start (changed files and requested reloads that were not refused). */
    long loads() {
        lock.lock();
        try {
            return loads;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until {@link #loads()} reaches {@code count}; false when the deadline passed first. */
    boolean awaitLoads(long count, Duration deadline) throws InterruptedException {
        long left = deadline.toNanos();
        lock.lock();
        try {
            while (loads < count && !closed) {
                if (left <= 0) {
                    return false;
                }
                left = wake.awaitNanos(left);
            }
            return loads >= count;
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        while (true) {
            boolean all;
            lock.lock();
            try {
                long left = intervalNanos;
                while (!requested && !closed && left > 0) {
                    left = wake.awaitNanos(left);
                }
                if (closed) {
                    return;
                }
                all = requested;
                requested = false;
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            watched.forEach(w -> check(w, all));
            try {
                afterEachPass.run();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "checking the open streams against the auth file failed: " + e);
            }
            if (all) {
                lock.lock();
                try {
                    reloads++;
                    wake.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /** Why a file was not taken: a missing or unreadable file says so rather than naming only the path. */
    private static String why(Exception e) {
        Throwable t = e instanceof java.io.UncheckedIOException u ? u.getCause() : e;
        if (t instanceof java.nio.file.NoSuchFileException n) {
            return n.getFile() + " is missing";
        }
        if (t instanceof java.nio.file.AccessDeniedException a) {
            return a.getFile() + " cannot be read (permission denied)";
        }
        return e.getMessage();
    }

    private void check(Watched w, boolean always) {
        byte[] now = fingerprint(w.files());
        if (!always && Arrays.equals(now, w.seen()[0])) {
            return;
        }
        w.seen()[0] = now;
        try {
            w.load().run();
            lock.lock();
            try {
                loads++;
                wake.signalAll();
            } finally {
                lock.unlock();
            }
            LOG.log(Level.INFO, "reloaded " + w.what() + (always ? " (SIGHUP)" : " (file changed)"));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "kept the previous " + w.what() + ": the new one is refused: " + why(e));
        }
    }

    /** A hash over the files' content (a missing or unreadable file counts as its own content). */
    private static byte[] fingerprint(List<Path> files) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (Path f : files) {
                try {
                    if (Files.size(f) > MAX_HASHED_BYTES) {   // refused when read anyway: size and time tell a change
                        digest.update((Files.size(f) + "@" + Files.getLastModifiedTime(f))
                                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    } else {
                        digest.update(Files.readAllBytes(f));
                    }
                } catch (IOException e) {
                    digest.update(("unreadable:" + e.getClass().getName())
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                digest.update((byte) 0);
            }
            return digest.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
        if (thread != null) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
