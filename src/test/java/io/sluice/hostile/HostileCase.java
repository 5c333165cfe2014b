package io.sluice.hostile;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every hostile-client case shares: a temporary directory, the broker it starts there (killed
 * after the test), and the row it adds to {@link HostileFigures}. Quick sizes in {@code make test},
 * full sizes in {@code make soak} ({@link io.sluice.Figures#scaled}).
 */
@ExtendWith(HostileFigures.class)
abstract class HostileCase {
    @TempDir
    Path dir;

    HostileBroker broker;

    /** Starts the broker of this case with these extra {@code serve} flags. */
    HostileBroker start(String... args) throws IOException {
        broker = HostileBroker.start(dir, args);
        return broker;
    }

    /** SIGTERM, then a new broker on the same data directory with the same ledger. */
    HostileBroker restart(String... args) throws IOException, InterruptedException {
        broker = broker.restart(dir, args);
        return broker;
    }

    @AfterEach
    void stopBroker() throws InterruptedException {
        if (broker != null) {
            broker.close();
        }
    }
}
