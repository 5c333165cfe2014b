package io.sluice.cli;

import io.sluice.client.SluiceClient;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sluice delete-topic}: removes a topic, its messages and groups; its subscriptions end. */
@Command(name = "delete-topic", mixinStandardHelpOptions = true,
        description = "Delete TOPIC with its messages and consumer groups; open subscriptions to it end.")
final class DeleteTopicCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    TargetOption target;

    @Parameters(index = "0", paramLabel = "TOPIC")
    String topic;

    @Override
    public Integer call() {
        try (SluiceClient client = target.connect()) {
            if (!client.deleteTopic(topic)) {
                throw new CommandFailure("topic " + topic + " does not exist");
            }
        }
        spec.commandLine().getOut().println("deleted topic " + topic);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
