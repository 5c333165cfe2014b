package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.domain.SluiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data directory's checks and lock, against an operator who deletes its file while the broker runs. */
class DataDirectoryTest {
    @TempDir
    Path dir;

    @Test
    void aLockFileRemovedWhileTheBrokerRunsIsMadeAgainAndStillKeepsASecondBrokerOut() throws Exception {
        Path lockFile = dir.resolve(DataDirectory.LOCK_FILE);
        try (DataDirectory held = DataDirectory.open(dir)) {
            held.markServing();
            Files.delete(lockFile);
            Await.until("the lock file is made again", () -> Files.exists(lockFile) && held(lockFile));
            var refused = assertThrows(SluiceException.Unavailable.class, () -> DataDirectory.open(dir).close());
            assertTrue(refused.getMessage().contains("in use by another broker"), refused.getMessage());
        }
        DataDirectory.open(dir).close();   // released when the broker stops
    }

    @Test
    void aDatabaseFileTheBrokerCannotWriteRefusesTheStartNamingIt() throws Exception {
        Path db = dir.resolve(SqliteStore.FILE_NAME);
        Files.writeString(db, "");
        Assumptions.assumeTrue(unwritable(db), "cannot make a file unwritable here (root without chattr)");
        try {
            var refused = assertThrows(SluiceException.class, () -> DataDirectory.open(dir).close());
            assertTrue(refused.getMessage().contains("cannot write its sluice.db"), refused.getMessage());
        } finally {
            writable(db);
        }
    }

    @Test
    void aReadOnlyBindMountIsNamedAsAReadOnlyFileSystem() throws Exception {
        Path source = Files.createDirectories(dir.resolve("source"));
        Path mounted = Files.createDirectories(dir.resolve("mounted"));
        Assumptions.assumeTrue(run("mount", "--bind", source.toString(), mounted.toString()),
                "cannot bind-mount here (not root)");
        try {
            Assumptions.assumeTrue(run("mount", "-o", "remount,bind,ro", mounted.toString()), "cannot remount");
            var refused = assertThrows(SluiceException.class, () -> DataDirectory.open(mounted).close());
            assertTrue(refused.getMessage().contains("its file system is mounted read-only"), refused.getMessage());
        } finally {
            run("umount", mounted.toString());
        }
    }

    private static boolean run(String... command) throws Exception {
        var p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    /** Makes {@code file} unwritable for this process: by its mode, or (as root) the immutable flag. */
    private static boolean unwritable(Path file) throws Exception {
        if (!file.toFile().setWritable(false, false) || Files.isWritable(file)) {
            var chattr = new ProcessBuilder("chattr", "+i", file.toString()).redirectErrorStream(true).start();
            chattr.getInputStream().readAllBytes();
            chattr.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        return !Files.isWritable(file);
    }

    private static void writable(Path file) throws Exception {
        new ProcessBuilder("chattr", "-i", file.toString()).redirectErrorStream(true).start()
                .waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        file.toFile().setWritable(true, false);
    }

    private static boolean held(Path lockFile) {
        try {
            return Files.readString(lockFile).contains("state: serving");
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
