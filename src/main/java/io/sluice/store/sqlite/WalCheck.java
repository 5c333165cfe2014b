package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Refuses a database whose write-ahead log lost committed transactions, when the evidence is still
 * there. SQLite opens a database whose {@code -wal} file is missing or cut short without a word:
 * transactions committed to the lost part of the log (and acknowledged) silently disappear, and
 * their sequences would be handed out again. After a crash, the {@code -shm} wal-index left behind
 * still records how many log frames were committed ({@code mxFrame}) and how many are already
 * copied into the database ({@code nBackfill}); SQLite rebuilds it from the log on the next open,
 * so this check runs before SQLite touches the files.
 *
 * <p>A log lost together with its index leaves no such evidence; it is refused when the lock file
 * shows that the broker before this one was killed while serving ({@link DataDirectory}), since a
 * clean stop folds the log into the database and removes it, and only a crash leaves one behind.
 *
 * <p>The check is deliberately one-sided: it refuses only when the log is shorter than the
 * committed frames need, or missing after a crash. It trusts the index only when both copies of its
 * header agree and carry a valid checksum; a log damaged inside, or cut short together with the loss
 * of its index, cannot be detected here.
 */
final class WalCheck {
    /** The wal-index format this check reads (SQLite 3.7.0 and later). */
    private static final int WAL_INDEX_VERSION = 3007000;
    private static final int HEADER = 48;
    private static final int WAL_HEADER = 32;
    private static final int FRAME_HEADER = 24;
    private static final int CHECKPOINT_INFO = 2 * HEADER;

    private WalCheck() {
    }

    /**
     * Throws {@link SluiceException.Corrupted} naming the files when the log lost committed frames,
     * or is missing, index and all, after the broker before this one was killed serving the directory.
     */
    static void requireIntactLog(Path database, DataDirectory directory) {
        Path wal = Path.of(database + "-wal");
        Path shm = Path.of(database + "-shm");
        ByteBuffer index = validIndex(shm);
        if (index != null) {
            requireCommittedFrames(database, wal, shm, index, directory.lastHolderCrashedServing()
                    ? " and delete " + directory.path().resolve(DataDirectory.LOCK_FILE) : "");
        } else if (directory.lastHolderCrashedServing() && !Files.exists(wal) && size(database) > 0) {
            throw new SluiceException.Corrupted(wal + " is missing, but the broker that last served "
                    + directory.path() + " did not fold it into the database (killed with the database open, or "
                    + "stopped on a full disk or while another process held it open) (" + DataDirectory.LOCK_FILE
                    + ": " + directory.lastHolder() + "): the log may hold acknowledged messages not yet copied into "
                    + database + ", and starting now would silently drop them and hand their sequences out again. "
                    + "Restore " + wal + " (and " + shm + ") from where they went; or, to accept the loss and start "
                    + "from what " + database + " holds, delete " + directory.path().resolve(DataDirectory.LOCK_FILE));
        }
    }

    /** The wal-index's header, when the file is there, readable and its header valid; else null. */
    private static ByteBuffer validIndex(Path shm) {
        ByteBuffer index;
        try {
            if (!Files.isRegularFile(shm) || Files.size(shm) < CHECKPOINT_INFO + 4) {
                return null;
            }
            byte[] head = new byte[CHECKPOINT_INFO + 4];
            try (var in = Files.newInputStream(shm)) {
                if (in.readNBytes(head, 0, head.length) < head.length) {
                    return null;
                }
            }
            index = ByteBuffer.wrap(head).order(ByteOrder.nativeOrder());   // the index is in host byte order
        } catch (IOException e) {
            return null;   // unreadable: SQLite will say what is wrong when it opens the files
        }
        return validHeader(index) ? index : null;
    }

    private static long size(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static void requireCommittedFrames(Path database, Path wal, Path shm, ByteBuffer index,
                                               String alsoToAccept) {
        long mxFrame = Integer.toUnsignedLong(index.getInt(16));
        long backfilled = Integer.toUnsignedLong(index.getInt(CHECKPOINT_INFO));
        if (mxFrame <= backfilled) {
            return;   // every committed frame is already in the database file
        }
        int pageSize = index.getShort(14) & 0xFFFF;
        pageSize = pageSize == 1 ? 65536 : pageSize;
        long needed = WAL_HEADER + mxFrame * (pageSize + FRAME_HEADER);
        long size;
        try {
            size = Files.isRegularFile(wal) ? Files.size(wal) : -1;
        } catch (IOException e) {
            size = -1;
        }
        if (size >= needed) {
            return;
        }
        String what = size < 0 ? wal + " is missing" : wal + " is " + size + " bytes long";
        throw new SluiceException.Corrupted(what + ", but " + shm + " records " + (mxFrame - backfilled)
                + " committed log frames not yet copied into " + database + " (the log needs at least " + needed
                + " bytes): starting now would silently drop acknowledged messages. Restore the write-ahead log "
                + "from where it went; or, to accept the loss and start from what is left, move " + shm
                + " aside" + alsoToAccept);
    }

    /** Both copies of the header agree, the index is initialised, and the header checksum holds. */
    private static boolean validHeader(ByteBuffer index) {
        for (int i = 0; i < HEADER; i++) {
            if (index.get(i) != index.get(HEADER + i)) {
                return false;
            }
        }
        if (index.getInt(0) != WAL_INDEX_VERSION || index.get(12) != 1) {
            return false;
        }
        int s1 = 0;
        int s2 = 0;
        for (int i = 0; i < 40; i += 8) {   // SQLite's walChecksumBytes over the first 40 bytes, native order
            s1 += index.getInt(i) + s2;
            s2 += index.getInt(i + 4) + s1;
        }
        return s1 == index.getInt(40) && s2 == index.getInt(44);
    }
}
