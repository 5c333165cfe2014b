package io.sluice.store.sqlite;

import com.google.protobuf.ByteString;
import io.sluice.store.Appended;
import io.sluice.store.NewMessage;
import io.sluice.store.Pending;
import io.sluice.store.StoreOptions;
import io.sluice.store.WhenFull;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes the damaged-storage fixtures of {@code test-data/} (see its README). Run once by hand;
 * the files are committed and tests only read copies of them:
 *
 * <pre>
 * ./mvnw -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp target/classes:target/test-classes:$(cat target/cp.txt) io.sluice.store.MakeFixtures test-data
 * </pre>
 */
public final class MakeFixtures {
    /** Transactions in the crash image, and messages per transaction. */
    static final int TRANSACTIONS = 8;
    static final int PER_TRANSACTION = 3;
    /** The payload marker of the message whose overflow page is damaged. */
    static final String BIG_MARK = "OVERFLOW-MARK";

    private MakeFixtures() {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "test-data");
        crashImage(out.resolve("crash-image"));
        damagedOverflow(out.resolve("damaged-overflow.db"));
    }

    /**
     * A data directory as SIGKILL leaves it: {@value #TRANSACTIONS} committed transactions of
     * {@value #PER_TRANSACTION} messages, all still in {@code sluice.db-wal} (never checkpointed),
     * with the {@code -shm} index of the running store, and a manifest of what was acknowledged.
     */
    static void crashImage(Path target) throws Exception {
        Path live = Files.createTempDirectory("crash-image");
        Files.createDirectories(target);
        var manifest = new ArrayList<String>();
        manifest.add("# transaction sequence topic id payload (every message acknowledged, in commit order)");
        try (SqliteStore store = SqliteStore.open(live, StoreOptions.defaults())) {
            for (int t = 0; t < TRANSACTIONS; t++) {
                String topic = t % 2 == 0 ? "orders" : "events";
                var messages = new ArrayList<NewMessage>();
                for (int i = 0; i < PER_TRANSACTION; i++) {
                    messages.add(new NewMessage(ByteString.copyFromUtf8("tx" + t + "-m" + i + "|" + "x".repeat(40)),
                            Map.of("tx", Integer.toString(t))));
                }
                var done = new Pending<List<Appended>>();
                store.append(topic, messages, WhenFull.WAIT, done);
                List<Appended> stored = done.await();
                for (int i = 0; i < stored.size(); i++) {
                    manifest.add(t + " " + stored.get(i).sequence() + " " + topic + " " + stored.get(i).id() + " "
                            + messages.get(i).payload().toStringUtf8());
                }
            }
            // The writer is idle and every commit is on disk: the three files are what a crash leaves.
            for (String name : List.of(SqliteStore.FILE_NAME, SqliteStore.FILE_NAME + "-wal",
                    SqliteStore.FILE_NAME + "-shm")) {
                Files.copy(live.resolve(name), target.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Files.write(target.resolve("manifest.txt"), manifest, StandardCharsets.UTF_8);
    }

    /**
     * A clean database (WAL checkpointed) holding a message of 12,000 bytes, which spills into
     * overflow pages; one byte of its payload inside an overflow page is changed. The b-tree is
     * intact, so {@code PRAGMA quick_check} passes; only the row's checksum can tell.
     */
    static void damagedOverflow(Path target) throws Exception {
        Path live = Files.createTempDirectory("damaged-overflow");
        try (SqliteStore store = SqliteStore.open(live, StoreOptions.defaults())) {
            for (int i = 0; i < 5; i++) {
                append(store, ByteString.copyFromUtf8("before-" + i));
            }
            byte[] big = new byte[12_000];
            Arrays.fill(big, (byte) 'B');
            byte[] mark = BIG_MARK.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(mark, 0, big, 6000, mark.length);
            append(store, ByteString.copyFrom(big));
            for (int i = 0; i < 5; i++) {
                append(store, ByteString.copyFromUtf8("after-" + i));
            }
        }
        Path file = live.resolve(SqliteStore.FILE_NAME);
        byte[] bytes = Files.readAllBytes(file);
        int at = indexOf(bytes, BIG_MARK.getBytes(StandardCharsets.US_ASCII));
        if (at < 0) {
            throw new IllegalStateException("the marker is not in the file");
        }
        try (var f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            f.write('0');   // "OVERFLOW-MARK" becomes "0VERFLOW-MARK"
        }
        Files.copy(file, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        System.out.println("damaged-overflow.db: byte at offset " + at + " (page " + (at / 4096 + 1) + ") changed");
    }

    private static void append(SqliteStore store, ByteString payload) throws InterruptedException {
        var done = new Pending<List<Appended>>();
        store.append("t", List.of(new NewMessage(payload, Map.of())), WhenFull.WAIT, done);
        done.await();
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
