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
 * <p>The check is deliberately one-sided: it refuses only when the log is shorter than the
 * committed frames need. It trusts the index only when both copies of its header agree and carry
 * a valid checksum; a log damaged inside, or lost together with its index, cannot be detected here.
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

    /** Throws {@link SluiceException.Corrupted} naming the files when the log lost committed frames. */
    static void requireIntactLog(Path database) {
        Path wal = Path.of(database + "-wal");
        Path shm = Path.of(database + "-shm");
        ByteBuffer index;
        try {
            if (!Files.isRegularFile(shm) || Files.size(shm) < CHECKPOINT_INFO + 4) {
                return;
            }
            byte[] head = new byte[CHECKPOINT_INFO + 4];
            try (var in = Files.newInputStream(shm)) {
                if (in.readNBytes(head, 0, head.length) < head.length) {
                    return;
                }
            }
            index = ByteBuffer.wrap(head).order(ByteOrder.nativeOrder());   // the index is in host byte order
        } catch (IOException e) {
            return;   // unreadable: SQLite will say what is wrong when it opens the files
        }
        if (!validHeader(index)) {
            return;
        }
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
                + " aside");
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
