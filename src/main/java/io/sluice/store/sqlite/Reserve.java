package io.sluice.store.sqlite;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Space set aside in the data directory ({@value #FILE}, {@link #BYTES} bytes of zeros) so that a
 * disk the broker filled can be emptied by the broker. On a full file system SQLite cannot fold its
 * write-ahead log into the database (that grows the file), so the log cannot start over, and every
 * write, a deletion as much as a publish, needs room the disk does not have: DeleteTopic and
 * retention could not free anything, nor could existing groups open. When a commit fails for a full
 * disk, the reserve is given back to the file system; new messages stay refused while the disk has
 * less free room than twice the reserve, and every other write (acks, group opens, deletions,
 * retention, the log's copy into the database) goes on in the room it left. Once the disk has that
 * room again, the reserve is written anew and messages are stored again; meanwhile they are stored in
 * the room deletions and retention freed inside the database, as long as twice the reserve of it is
 * left after each batch: looked at for every batch, since a database that grew the file now would take
 * the disk's last bytes with no reserve left to give (and no deletion could commit any more).
 * A full database under {@code --max-database-bytes} is no full disk: the reserve stays. Writer
 * thread only.
 */
final class Reserve {
    static final String FILE = "sluice.reserve";
    static final int BYTES = 4 << 20;
    private static final System.Logger LOG = System.getLogger(Reserve.class.getName());
    private static final long CHECK_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Path file;
    private boolean released;
    private boolean holding;   // the last decision of holdingBack
    private long checkedAt;

    Reserve(Path directory) {
        this.file = directory.resolve(FILE);
        try {
            write();
        } catch (IOException e) {
            released = true;   // no room for it now: made once the disk has room again
            holding = false;
            LOG.log(Level.WARNING, "cannot set aside " + BYTES + " bytes in " + file + " (" + e.getMessage()
                    + "): until it is, a disk this broker fills may need space freed outside it");
        }
    }

    /**
     * True while new messages, {@code batchRoom} bytes of them at most in the database, are refused to
     * keep the reserve's room for the writes that free space. Once given back, they are stored again
     * when the disk has twice the reserve free (the reserve is then set aside anew: looked at once a
     * second), or while the database keeps that much room of its own after them ({@code freeInDatabase}:
     * pages deletions and retention freed, which new messages fill without growing the file; looked at
     * for every batch).
     */
    boolean holdingBack(LongSupplier freeInDatabase, long batchRoom) {
        if (!released) {
            return false;
        }
        long now = System.nanoTime();
        if (now - checkedAt >= CHECK_EVERY_NANOS) {
            checkedAt = now;
            if (usable() >= 2L * BYTES && setAsideAgain()) {
                return false;
            }
        }
        if (batchRoom == 0) {
            return false;   // no new message: nothing to refuse
        }
        boolean before = holding;
        holding = freeInDatabase.getAsLong() - batchRoom < 2L * BYTES;
        if (before && !holding) {
            LOG.log(Level.INFO, "deletions or retention freed room in the database: new messages are stored in it "
                    + "(the disk itself is still short of room for the reserve)");
        }
        return holding;
    }

    /** The disk has room again: writes the reserve anew; false when that failed after all. */
    private boolean setAsideAgain() {
        try {
            write();
        } catch (IOException e) {
            return false;   // write() removed what it began
        }
        released = false;
        holding = false;
        LOG.log(Level.INFO, "the data directory's disk has room again: the reserve is set aside anew and new messages "
                + "are stored");
        return true;
    }

    /** A commit failed for a full disk: gives the reserve's room to the writes that free space (a real disk only). */
    void diskFull() {
        if (released || usable() >= 2L * BYTES) {
            return;   // already given, or the file system has room: the database's own size limit was reached
        }
        deleteQuietly();
        released = true;
        holding = true;
        checkedAt = System.nanoTime();
        LOG.log(Level.WARNING, "the disk is full: gave back the " + (BYTES >> 20) + " MiB reserve of " + file
                + " so that acks, group opens, deletions and retention go on and can free space; new messages are "
                + "refused until the disk has " + (2 * BYTES >> 20) + " MiB free");
    }

    /** The broker is stopping: the room lets the last copy of the log into the database succeed on a full disk. */
    void giveBack() {
        deleteQuietly();
        released = true;
    }

    private void write() throws IOException {
        try (var out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            if (out.size() == BYTES) {
                return;
            }
            var zeros = ByteBuffer.allocate(64 << 10);
            long at = 0;
            while (at < BYTES) {   // written, not a sparse length: the room must really be taken
                zeros.clear();
                at += out.write(zeros, at);
            }
            out.force(false);
        } catch (IOException e) {
            deleteQuietly();
            throw e;
        }
    }

    private long usable() {
        try {
            return Files.getFileStore(file.getParent()).getUsableSpace();
        } catch (IOException e) {
            return 0;
        }
    }

    private void deleteQuietly() {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove " + file + ": " + e.getMessage());
        }
    }
}
