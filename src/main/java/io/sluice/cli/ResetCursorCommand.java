package io.sluice.cli;

import io.sluice.client.SluiceClient;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sluice reset-cursor}: repositions a consumer group; delivery resumes after the sequence. */
@Command(name = "reset-cursor", mixinStandardHelpOptions = true,
        description = {"Set the cursor of consumer GROUP on TOPIC to SEQUENCE: delivery resumes after it,",
                "also on an open subscription. 0 replays the whole topic."})
final class ResetCursorCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    TargetOption target;

    @Parameters(index = "0", paramLabel = "TOPIC")
    String topic;

    @Parameters(index = "1", paramLabel = "GROUP")
    String group;

    @Parameters(index = "2", paramLabel = "SEQUENCE")
    long sequence;

    @Override
    public Integer call() {
        try (SluiceClient client = target.connect()) {
            client.resetCursor(topic, group, sequence);
        }
        spec.commandLine().getOut().println("cursor of group " + group + " on topic " + topic + " set to "
                + Long.toUnsignedString(sequence) + "; delivery resumes after it");
        spec.commandLine().getOut().flush();
        return 0;
    }
}
