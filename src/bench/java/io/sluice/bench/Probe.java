package io.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Measures the broker around one measured window at a time: its {@code /proc/<pid>/status} (RSS,
 * threads) every 200 ms on one daemon platform thread ({@code bench-probe}), its CPU time and metrics
 * endpoint at the window's edges, and its heap after a full GC through {@code jcmd} once a window is
 * over. Without a local process (a {@code --target}) only the metrics endpoint, if any, is read.
 */
final class Probe implements AutoCloseable {
    private static final Pattern USED = Pattern.compile("used (\\d+)([KMG])");

    private final String metricsUrl;
    private final ProcessHandle broker;
    private final Path jcmd;
    private final ScheduledExecutorService sampler;
    private final AtomicLong peakRssKb = new AtomicLong(-1);
    private final AtomicLong peakThreads = new AtomicLong(-1);

    /** The broker's metrics endpoint, or null. */
    String metricsUrl() {
        return metricsUrl;
    }

    /** {@code broker} and {@code jcmd} may be null: the figures they give are then left out. */
    Probe(String metricsUrl, ProcessHandle broker, Path jcmd) {
        this.metricsUrl = metricsUrl;
        this.broker = broker;
        this.jcmd = jcmd;
        if (broker == null) {
            sampler = null;
            return;
        }
        sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "bench-probe");
            t.setDaemon(true);
            return t;
        });
        sampler.scheduleAtFixedRate(this::sample, 0, 200, TimeUnit.MILLISECONDS);
    }

    private void sample() {
        if (broker == null) {
            return;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(broker.pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    peakRssKb.accumulateAndGet(kb, Math::max);
                } else if (line.startsWith("Threads:")) {
                    long n = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    peakThreads.accumulateAndGet(n, Math::max);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // the process is gone, or no /proc here: nothing to sample
        }
    }

    /** Starts a window: resets the peaks, reads CPU times, then the metrics endpoint (slow on a busy broker). */
    Window begin() {
        long started = System.nanoTime();
        long brokerCpu = cpu(broker);
        long clientCpu = cpu(ProcessHandle.current());
        peakRssKb.set(-1);
        peakThreads.set(-1);
        sample();
        return new Window(Scrape.of(metricsUrl), brokerCpu, clientCpu, started);
    }

    private static long cpu(ProcessHandle p) {
        return p == null ? -1 : p.info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
    }

    /** One measured window, from {@link #begin()} to {@link #end()}. */
    final class Window {
        private final Scrape scrape;
        private final long brokerCpu;
        private final long clientCpu;
        private final long started;

        private Window(Scrape scrape, long brokerCpu, long clientCpu, long started) {
            this.scrape = scrape;
            this.brokerCpu = brokerCpu;
            this.clientCpu = clientCpu;
            this.started = started;
        }

        /** The broker's figures since {@link #begin()} (heap after GC is added by {@link #heapAfterGcKb()}). */
        Resources end() {
            long wall = System.nanoTime() - started;
            long b = cpu(broker);
            long c = cpu(ProcessHandle.current());
            sample();
            Scrape after = Scrape.of(metricsUrl);
            Scrape.Writer writer = scrape != null && after != null ? after.since(scrape) : null;
            long rss = peakRssKb.get();
            long threads = peakThreads.get();
            return new Resources(
                    writer == null ? null : writer.commitsPerSecond(),
                    writer == null ? null : writer.messagesPerCommit(),
                    writer == null ? null : writer.commitMeanMillis(),
                    rss < 0 ? null : rss, null, threads < 0 ? null : (int) threads,
                    brokerCpu < 0 || b < 0 ? null : 100.0 * (b - brokerCpu) / wall,
                    clientCpu < 0 || c < 0 ? null : 100.0 * (c - clientCpu) / wall);
        }
    }

    /** Heap used right after a full GC of the broker, through jcmd; null when that cannot be done. */
    Long heapAfterGcKb() {
        if (broker == null || jcmd == null || !Files.isExecutable(jcmd) || !broker.isAlive()) {
            return null;
        }
        Path commands = null;
        try {
            commands = Files.createTempFile("sluice-bench-jcmd", ".txt");
            Files.writeString(commands, "GC.run\nGC.heap_info\n");
            String output = Exec.run(30, List.of(jcmd.toString(), Long.toString(broker.pid()), "-f",
                    commands.toString()));
            return output == null ? null : heapUsedKb(output);
        } catch (IOException e) {
            return null;
        } finally {
            if (commands != null) {
                try {
                    Files.deleteIfExists(commands);
                } catch (IOException ignored) {
                    // a temp file left behind
                }
            }
        }
    }

    /** Sums the "used" figures of the heap lines of GC.heap_info (G1, Serial, Parallel, ZGC), before Metaspace. */
    static Long heapUsedKb(String heapInfo) {
        long kb = 0;
        boolean found = false;
        for (String line : heapInfo.split("\n")) {
            if (line.strip().startsWith("Metaspace") || line.strip().startsWith("class space")) {
                break;
            }
            Matcher m = USED.matcher(line);
            while (m.find()) {
                long v = Long.parseLong(m.group(1));
                kb += switch (m.group(2)) {
                    case "M" -> v * 1024;
                    case "G" -> v * 1024 * 1024;
                    default -> v;
                };
                found = true;
            }
        }
        return found ? kb : null;
    }

    @Override
    public void close() {
        if (sampler != null) {
            sampler.shutdownNow();
        }
    }
}
