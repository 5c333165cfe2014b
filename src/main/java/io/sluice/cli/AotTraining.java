package io.sluice.cli;

import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The command line's training run for the JDK's ahead-of-time cache (scripts/aot-train): runs the
 * client commands once each, in one JVM, against the broker at the given target, so that a CLI
 * started with {@code -XX:AOTCache} finds their classes loaded and linked. Writes to a topic of its
 * own and deletes it at the end. Usage: {@code java -cp sluice.jar io.sluice.cli.AotTraining HOST:PORT}.
 */
public final class AotTraining {
    private AotTraining() {
    }

    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: AotTraining HOST:PORT");
            System.exit(2);
        }
        String target = "--target=" + args[0];
        String topic = "aot-training-cli";
        List<String[]> commands = List.of(
                new String[] {"--help"},
                new String[] {"publish", topic, "one", "-a", "key=value", target},
                new String[] {"publish", topic, "--batch", "-", target},
                new String[] {"topics", target},
                new String[] {"stats", target},
                new String[] {"stats", topic, target},
                new String[] {"subscribe", topic, "--group", "training", "--from", "earliest", "--count", "3", "--ack",
                        target},
                new String[] {"subscribe", topic, "--browse", "--from", "earliest", "--count", "2", "--json", target},
                new String[] {"reset-cursor", topic, "training", "0", target},
                new String[] {"delete-group", topic, "training", target},
                new String[] {"delete-topic", topic, target});
        var sink = new PrintWriter(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        var err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        for (String[] c : commands) {
            var stdin = new ByteArrayInputStream("two\nthree\n".getBytes(StandardCharsets.UTF_8));
            int exit = Main.run(stdin, sink, err, c);
            if (exit != 0) {
                err.println("AotTraining: '" + String.join(" ", c) + "' exited with " + exit);
                System.exit(1);
            }
        }
        System.exit(0);
    }
}
