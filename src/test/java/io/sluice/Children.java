package io.sluice;

import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * The broker processes and channels one test starts: after the test the channels are shut down and
 * the processes killed, and when it failed their output is printed. Registered with
 * {@code @RegisterExtension final Children children = new Children(() -> dir);} where {@code dir} is
 * the test's {@code @TempDir} (read when a broker starts, once JUnit has set it).
 */
public final class Children implements AfterEachCallback, TestWatcher {
    private final Supplier<Path> workDir;
    private final List<BrokerProcess> processes = new CopyOnWriteArrayList<>();
    private final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();

    public Children(Supplier<Path> workDir) {
        this.workDir = workDir;
    }

    /** {@code serve} on a free port, loopback only, metrics off, with {@code args}; waits for its banner. */
    public BrokerProcess serve(Path data, String... args) throws IOException {
        return add(BrokerProcess.serve(workDir.get(), data, List.of(args)));
    }

    /** {@code java jvmArgs -jar sluice.jar args...} with no SLUICE_ or OTEL_ variables but {@code env}. */
    public BrokerProcess start(List<String> jvmArgs, List<String> args, Map<String, String> env) throws IOException {
        return add(BrokerProcess.start(workDir.get(), jvmArgs, args, env));
    }

    private BrokerProcess add(BrokerProcess child) {
        processes.add(child);
        return child;
    }

    /** A channel to {@code child}, shut down after the test. */
    public ManagedChannel channel(BrokerProcess child) {
        var c = child.channel();
        channels.add(c);
        return c;
    }

    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        for (BrokerProcess c : processes) {
            c.kill();
        }
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        for (BrokerProcess c : processes) {
            System.err.println(c.transcript());
        }
    }
}
