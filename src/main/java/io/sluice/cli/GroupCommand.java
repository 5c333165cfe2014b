package io.sluice.cli;

import io.sluice.client.GroupSettings;
import io.sluice.client.SluiceClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sluice group}: consumer group administration; {@code sluice group configure} creates or configures one. */
@Command(name = "group", mixinStandardHelpOptions = true, subcommands = GroupCommand.Configure.class,
        description = "Consumer group administration (see: sluice group configure --help).")
final class GroupCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: configure");
    }

    /** {@code sluice group configure TOPIC GROUP [--shared] [settings]}. */
    @Command(name = "configure", mixinStandardHelpOptions = true,
            description = {"Create consumer GROUP on TOPIC (starting at its oldest message), or replace its settings.",
                    "A group's mode (--shared: competing consumers) is fixed when it is created."})
    static final class Configure extends AdminCommand {
        @Parameters(index = "0", paramLabel = "TOPIC")
        String topic;

        @Parameters(index = "1", paramLabel = "GROUP")
        String group;

        @Option(names = "--shared", description = "A shared group: each message leased to one consumer at a time.")
        boolean shared;

        @Option(names = "--ack-wait", paramLabel = "DURATION", converter = Durations.class,
                description = "Shared groups: how long a delivery is leased (default 30s).")
        Duration ackWait = Duration.ZERO;

        @Option(names = "--max-deliveries", paramLabel = "N", defaultValue = "0",
                description = "Deliveries after which an unsettled message goes to the dead-letter topic "
                        + "(default 0: unlimited; needs --dead-letter-topic).")
        int maxDeliveries;

        @Option(names = "--dead-letter-topic", paramLabel = "TOPIC", defaultValue = "",
                description = "Where dead letters go (needs the publish grant on it).")
        String deadLetterTopic;

        @Option(names = "--max-in-flight", paramLabel = "N", defaultValue = "0",
                description = "Shared groups: delivered, unsettled messages at most (default 1000).")
        int maxInFlight;

        @Option(names = "--backoff", paramLabel = "DURATION[,DURATION...]", split = ",", converter = Durations.class,
                description = "Delay before the 1st, 2nd, ... redelivery; the last repeats "
                        + "(default 1s doubling to 5m).")
        List<Duration> backoff = new ArrayList<>();

        @Override
        String usageProblem() {
            String deliveries = negative("--max-deliveries", maxDeliveries);
            if (deliveries != null) {
                return deliveries;
            }
            if (ackWait.compareTo(GroupSettings.MAX_DURATION) > 0
                    || backoff.stream().anyMatch(d -> d.compareTo(GroupSettings.MAX_DURATION) > 0)) {
                return (ackWait.compareTo(GroupSettings.MAX_DURATION) > 0 ? "--ack-wait" : "--backoff")
                        + " must be at most " + GroupSettings.MAX_DURATION.toMillis() + "ms (about 49.7 days)";
            }
            return negative("--max-in-flight", maxInFlight);
        }

        @Override
        String run(SluiceClient client) {
            var settings = new GroupSettings(ackWait, maxDeliveries, deadLetterTopic, maxInFlight, backoff);
            GroupSettings now = client.configureGroup(topic, group, shared, settings);
            return (shared ? "shared" : "consumer") + " group " + shown(group) + " on topic " + topic + ": ack wait "
                    + (now.ackWait().isZero() ? "30s (default)" : Durations.format(now.ackWait()))
                    + ", max deliveries " + (now.maxDeliveries() == 0 ? "unlimited" : now.maxDeliveries())
                    + (now.deadLetterTopic().isEmpty() ? "" : ", dead letters to " + now.deadLetterTopic())
                    + ", max in flight " + (now.maxInFlight() == 0 ? "1000 (default)" : now.maxInFlight())
                    + ", backoff " + (now.backoff().isEmpty() ? "1s doubling to 5m (default)"
                    : now.backoff().stream().map(Durations::format).toList());
        }
    }
}
