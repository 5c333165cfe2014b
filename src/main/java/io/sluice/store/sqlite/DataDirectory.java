package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;

/**
 * The data directory, held by one broker at a time. Opening it creates it when missing, checks that
 * it is a writable directory, and takes an exclusive lock on {@value #LOCK_FILE} inside it, writing
 * who holds it (process id, host, start time) into the file. A second broker on the same directory
 * (another process, or this one opening it twice) is refused with a message naming the directory
 * and the holder. The operating system drops the lock when the process ends, however it ends, so a
 * broker killed with SIGKILL never leaves a stale lock behind.
 *
 * <p>The file also says how far the holder got: {@code starting}, {@code serving} once its database
 * is open, {@code stopping} once it has written its last commit. A broker that finds
 * {@code serving} left by the one before it knows that one was killed with its database open, so
 * its write-ahead log may hold acknowledged commits ({@link #lastHolderCrashedServing()}).
 */
public final class DataDirectory implements AutoCloseable {
    public static final String LOCK_FILE = "sluice.lock";

    private static final String SERVING = "serving";
    /** Starting after one killed while serving: a start refused for a lost log must not erase the evidence. */
    private static final String AFTER_CRASH = "starting after a broker was killed serving";
    /** Stopped, but its log could not be folded into the database: the log holds commits the database has not. */
    private static final String UNFOLDED = "stopped with its log not folded into the database";

    /** How often the lock file is looked at: one removed while the broker runs is made again. */
    static final long WATCH_MILLIS = 2_000;
    private static final System.Logger LOG = System.getLogger(DataDirectory.class.getName());

    private final Path path;
    private FileChannel channel;       // guarded by this
    private FileLock lock;             // guarded by this
    private Object lockedKey;          // guarded by this: the file system's key of the file locked
    private String state = "starting"; // guarded by this
    private boolean closed;            // guarded by this
    private final String lastHolder;   // what the lock file said before this broker took it
    private final Thread watcher;

    private DataDirectory(Path path, FileChannel channel, FileLock lock, String lastHolder) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
        this.lastHolder = lastHolder;
        this.lockedKey = fileKey(path.resolve(LOCK_FILE));
        this.watcher = Thread.ofPlatform().daemon().name("sluice-data-dir-lock").start(this::watch);
    }

    /**
     * The lock is on the file: one deleted (or replaced) while the broker runs would let a second
     * broker lock a new one and write the same database. Such a file is made and locked again.
     */
    private void watch() {
        while (true) {
            try {
                Thread.sleep(WATCH_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            synchronized (this) {
                if (closed) {
                    return;
                }
                Path file = path.resolve(LOCK_FILE);
                Object key = fileKey(file);
                if (key != null && key.equals(lockedKey)) {
                    continue;
                }
                relock(file);
            }
        }
    }

    private void relock(Path file) {
        FileChannel fresh = null;
        try {
            fresh = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock taken = fresh.tryLock();
            if (taken == null) {
                LOG.log(System.Logger.Level.ERROR, file + " was removed while this broker serves " + path
                        + ", and another broker holds the new one (" + holder(fresh) + "): two brokers write one "
                        + "database; stop the other one");
                closeQuietly(fresh);
                return;
            }
            closeQuietly(channel);   // releases the lock on the removed file
            channel = fresh;
            lock = taken;
            lockedKey = fileKey(file);
            writeHolder(channel, state);
            LOG.log(System.Logger.Level.WARNING, file + " was removed while this broker serves " + path
                    + ": made and locked again, so no second broker starts on the directory");
        } catch (IOException | OverlappingFileLockException e) {
            if (fresh != null && fresh != channel) {
                closeQuietly(fresh);
            }
            LOG.log(System.Logger.Level.WARNING, "cannot make " + file + " again: " + e);
        }
    }

    private static Object fileKey(Path file) {
        try {
            return Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Creates (when missing), checks and locks {@code dir}; throws naming the directory and the problem. */
    public static DataDirectory open(Path dir) {
        Path path = dir.toAbsolutePath().normalize();
        requireUsable(path);
        Path lockFile = path.resolve(LOCK_FILE);
        FileChannel channel;
        try {
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw unusable(path, "cannot open its lock file " + LOCK_FILE + ": " + reason(e), e);
        }
        try {
            FileLock lock = tryLock(channel, path);
            if (lock == null) {
                String holder = holder(channel);
                throw new SluiceException.Unavailable("the data directory " + path + " is in use by another broker ("
                        + holder + "); one directory serves one broker: stop the other one or choose another "
                        + "--data-dir");
            }
            String lastHolder = holder(channel);
            writeHolder(channel, crashedServing(lastHolder) ? AFTER_CRASH : "starting");
            return new DataDirectory(path, channel, lock, lastHolder);
        } catch (IOException e) {
            closeQuietly(channel);
            throw unusable(path, "cannot lock " + LOCK_FILE + ": " + reason(e), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static FileLock tryLock(FileChannel channel, Path path) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            // This process holds it already (a second broker started in the same JVM).
            throw new SluiceException.Unavailable("the data directory " + path + " is in use by another broker in "
                    + "this process (pid " + ProcessHandle.current().pid() + "); one directory serves one broker");
        }
    }

    private static void requireUsable(Path path) {
        if (Files.exists(path) && !Files.isDirectory(path)) {
            throw unusable(path, "it is not a directory", null);
        }
        try {
            Files.createDirectories(path);
        } catch (AccessDeniedException e) {
            throw unusable(path, "permission denied creating it (or a parent directory)", e);
        } catch (NotDirectoryException e) {
            throw unusable(path, "a part of its path is not a directory", e);
        } catch (IOException e) {
            throw unusable(path, "cannot create it: " + reason(e), e);
        }
        if (!Files.isWritable(path)) {
            throw unusable(path, readOnlyFileSystem(path) ? "its file system is mounted read-only"
                    : "permission denied: the broker's user cannot write to it", null);
        }
        // SQLite opens a file it cannot write read-only, without a word: every write would fail later.
        for (String name : List.of(SqliteStore.FILE_NAME, SqliteStore.FILE_NAME + "-wal",
                SqliteStore.FILE_NAME + "-shm")) {
            Path file = path.resolve(name);
            if (Files.exists(file) && !Files.isWritable(file)) {
                throw unusable(path, "the broker's user cannot write its " + name
                        + " (permission denied: another user's file, or one made immutable)", null);
            }
        }
    }

    /**
     * Whether {@code path} is on a read-only file system. The JDK reads the mount's options, which for a
     * read-only bind mount of a writable file system it takes from the writable one; so a file is also
     * tried, and its error (EROFS) asked.
     */
    private static boolean readOnlyFileSystem(Path path) {
        try {
            if (Files.getFileStore(path).isReadOnly()) {
                return true;
            }
        } catch (IOException e) {
            // the file below says
        }
        try {
            Files.delete(Files.createTempFile(path, ".sluice-probe", null));
            return false;
        } catch (java.nio.file.FileSystemException e) {
            return String.valueOf(e.getReason()).contains("Read-only file system");
        } catch (IOException e) {
            return false;
        }
    }

    private static SluiceException unusable(Path path, String why, Throwable cause) {
        return new SluiceException.StorageFailure("the data directory " + path + " cannot be used: " + why, cause);
    }

    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileSystemException fs && fs.getReason() != null) {
            return fs.getReason();
        }
        return String.valueOf(e.getMessage());
    }

    /** Who wrote the lock file last (the holder while it is locked), and how far it got, on one line. */
    private static String holder(FileChannel channel) {
        try {
            var buffer = ByteBuffer.allocate(512);
            channel.read(buffer, 0);
            String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
            return text.isEmpty() ? "holder unknown" : text.replace('\n', ' ');
        } catch (IOException e) {
            return "holder unknown: " + e.getMessage();
        }
    }

    private static void writeHolder(FileChannel channel, String state) throws IOException {
        long started = ManagementFactory.getRuntimeMXBean().getStartTime();
        String text = "pid " + ProcessHandle.current().pid() + hostName() + ", started "
                + Instant.ofEpochMilli(started) + ",\nstate: " + state + "\n";
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), 0);
        channel.force(false);
    }

    /**
     * The broker before this one was killed (or its machine stopped) while its database was open, or
     * stopped without folding its log into the database: the lock file says so. Files written by a
     * version without states say nothing.
     */
    boolean lastHolderCrashedServing() {
        return crashedServing(lastHolder);
    }

    private static boolean crashedServing(String holder) {
        return holder.endsWith("state: " + SERVING) || holder.endsWith("state: " + AFTER_CRASH)
                || holder.endsWith("state: " + UNFOLDED);
    }

    /** What the lock file said before this broker took it. */
    String lastHolder() {
        return lastHolder;
    }

    /** The database is open (its write-ahead log exists): a crash from now on leaves {@code serving} behind. */
    void markServing() {
        mark(SERVING);
    }

    /** Closed, but the log is still there: the next start insists on it as after a crash. */
    void markLogUnfolded() {
        mark(UNFOLDED);
    }

    /** The last commit is written: the database is about to be closed, which folds its log into it. */
    void markStopping() {
        mark("stopping");
    }

    private synchronized void mark(String state) {
        this.state = state;
        try {
            writeHolder(channel, state);
        } catch (IOException e) {   // a full disk: the broker still serves, without this record
            System.getLogger(DataDirectory.class.getName()).log(System.Logger.Level.WARNING, "cannot record state "
                    + state + " in " + path.resolve(LOCK_FILE) + ": " + reason(e));
        }
    }

    /** " on <host>" from the kernel's name for it (no DNS lookup at start-up), or nothing. */
    private static String hostName() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            return name.isEmpty() ? "" : " on " + name;
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    public Path path() {
        return path;
    }

    /** Releases the lock (the file stays, naming the last holder). Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        watcher.interrupt();
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } catch (IOException ignored) {
            // the channel's close below releases it too
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }
}
