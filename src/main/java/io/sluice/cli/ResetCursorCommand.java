package io.sluice.cli;

import io.sluice.client.SluiceClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code sluice reset-cursor}: repositions a consumer group; delivery resumes after the sequence. */
@Command(name = "reset-cursor", mixinStandardHelpOptions = true,
        description = "Set the cursor of consumer GROUP on TOPIC to SEQUENCE: delivery resumes after it, also on an "
                + "open subscription. 0 replays the whole topic.")
final class ResetCursorCommand extends AdminCommand {
    @Parameters(index = "0", paramLabel = "TOPIC")
    String topic;

    @Parameters(index = "1", paramLabel = "GROUP")
    String group;

    @Parameters(index = "2", paramLabel = "SEQUENCE", converter = Sequences.class,
            description = "The last sequence counted as read, 0 or more.")
    long sequence;

    @Override
    String run(SluiceClient client) {
        client.resetCursor(topic, group, sequence);
        return "cursor of group " + shown(group) + " on topic " + topic + " set to "
                + Long.toUnsignedString(sequence) + "; delivery resumes after it";
    }
}
