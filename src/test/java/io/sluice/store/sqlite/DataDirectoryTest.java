package io.sluice.store.sqlite;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.domain.SluiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data directory's lock, against an operator who deletes its file while the broker runs. */
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

    private static boolean held(Path lockFile) {
        try {
            return Files.readString(lockFile).contains("state: serving");
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
