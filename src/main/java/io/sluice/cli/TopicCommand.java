package io.sluice.cli;

import io.sluice.client.SluiceClient;
import io.sluice.client.TopicSettings;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sluice topic}: topic administration; {@code sluice topic configure} sets retention and dedup. */
@Command(name = "topic", mixinStandardHelpOptions = true, description = "Topic administration.",
        subcommands = TopicCommand.Configure.class)
final class TopicCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: configure");
    }

    /** {@code sluice topic configure TOPIC [--max-age D] [--max-bytes N] [--max-messages N] [--discard old|new]}. */
    @Command(name = "configure", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Create TOPIC with these limits, or replace an existing topic's. Unset limits are none.",
                    "At a count or byte limit, old removes the oldest messages and new refuses publishes."})
    static final class Configure extends AdminCommand {
        @Parameters(index = "0", paramLabel = "TOPIC")
        String topic;

        @Option(names = "--max-age", paramLabel = "DURATION", converter = Durations.class, defaultValue = "0",
                description = "Keep messages at most this long, e.g. 7d, 6h (default: no limit).")
        Duration maxAge;

        @Option(names = "--max-bytes", paramLabel = "BYTES", defaultValue = "0",
                description = "Most payload and attribute bytes (default: no limit).")
        long maxBytes;

        @Option(names = "--max-messages", paramLabel = "N", defaultValue = "0",
                description = "Most messages (default: no limit).")
        long maxMessages;

        @Option(names = "--discard", paramLabel = "old|new", defaultValue = "old",
                description = "At a count or byte limit: old removes the oldest, new refuses (default ${DEFAULT-VALUE}).")
        String discard;

        @Option(names = "--dedup-window", paramLabel = "DURATION", converter = Durations.class, defaultValue = "0",
                description = "How long publishes' dedup ids are remembered (default: the broker's --dedup-window).")
        Duration dedupWindow;

        @Override
        String usageProblem() {
            String d = discard.trim().toLowerCase(Locale.ROOT);
            if (!d.equals("old") && !d.equals("new")) {
                return "--discard must be old or new, not '" + discard + "'";
            }
            String bytes = negative("--max-bytes", maxBytes);
            return bytes != null ? bytes : negative("--max-messages", maxMessages);
        }

        @Override
        String run(SluiceClient client) {
            boolean discardNew = discard.trim().toLowerCase(Locale.ROOT).equals("new");
            var answer = client.setTopicSettings(topic,
                    new TopicSettings(maxAge, maxBytes, maxMessages, discardNew, dedupWindow));
            TopicSettings stored = answer.settings();
            return (answer.created() ? "created topic " : "configured topic ") + topic + ": max age "
                    + (stored.maxAge().isZero() ? "none" : Durations.format(stored.maxAge())) + ", max bytes "
                    + (stored.maxBytes() == 0 ? "none" : stored.maxBytes()) + ", max messages "
                    + (stored.maxMessages() == 0 ? "none" : stored.maxMessages())
                    + ", discard " + (stored.discardNew() ? "new" : "old") + ", " + dedup(stored.dedupWindow());
        }

        /** The dedup window the broker stored, and why when it is not the one asked. */
        private String dedup(Duration stored) {
            if (stored.isZero()) {
                return "dedup window: the broker's --dedup-window";
            }
            if (!stored.equals(dedupWindow)) {
                return "dedup window " + Durations.format(stored) + " (clamped from the "
                        + Durations.format(dedupWindow) + " asked: a dedup window is never longer than the max age)";
            }
            return "dedup window " + Durations.format(dedupWindow);
        }
    }
}
