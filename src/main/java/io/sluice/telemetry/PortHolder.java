package io.sluice.telemetry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Names the process listening on a TCP port, for a start-up error: on Linux it reads the listening
 * sockets from {@code /proc/net/tcp} and {@code tcp6} and finds the process owning one of them
 * among those this user may inspect. Answers "" wherever that cannot be found out.
 */
final class PortHolder {
    private static final String LISTEN = "0A";
    private static final int MAX_PROCESSES = 10_000;

    private PortHolder() {
    }

    /** "process 1234 (java ... serve)", or "" when unknown. */
    static String describe(int port) {
        try {
            Set<String> inodes = listeningInodes(port);
            if (inodes.isEmpty()) {
                return "";
            }
            int seen = 0;
            try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
                for (Path proc : procs) {
                    if (++seen > MAX_PROCESSES) {
                        break;
                    }
                    if (holds(proc, inodes)) {
                        return "process " + proc.getFileName() + command(proc);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return "";
        }
        return "";
    }

    private static Set<String> listeningInodes(int port) throws IOException {
        String hexPort = String.format(Locale.ROOT, ":%04X", port);
        Set<String> inodes = new HashSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(table);
            if (!Files.isReadable(p)) {
                continue;
            }
            for (String line : Files.readAllLines(p)) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[1].endsWith(hexPort) && f[3].equals(LISTEN)) {
                    inodes.add("socket:[" + f[9] + "]");
                }
            }
        }
        return inodes;
    }

    private static boolean holds(Path proc, Set<String> inodes) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
            for (Path fd : fds) {
                try {
                    if (inodes.contains(Files.readSymbolicLink(fd).toString())) {
                        return true;
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException | SecurityException e) {
            // another user's process
        }
        return false;
    }

    private static String command(Path proc) {
        try {
            String cmd = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ').strip();
            if (cmd.length() > 120) {
                cmd = cmd.substring(0, 117) + "...";
            }
            return cmd.isEmpty() ? "" : " (" + cmd + ")";
        } catch (IOException e) {
            return "";
        }
    }
}
