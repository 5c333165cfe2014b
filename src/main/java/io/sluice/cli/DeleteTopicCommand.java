package io.sluice.cli;

import io.sluice.client.SluiceClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code sluice delete-topic}: removes a topic, its messages and groups; its subscriptions end. */
@Command(name = "delete-topic", mixinStandardHelpOptions = true,
        description = "Delete TOPIC with its messages and consumer groups; open subscriptions to it end.")
final class DeleteTopicCommand extends AdminCommand {
    @Parameters(index = "0", paramLabel = "TOPIC")
    String topic;

    @Override
    String run(SluiceClient client) {
        if (!client.deleteTopic(topic)) {
            throw new CommandFailure("topic " + topic + " does not exist");
        }
        return "deleted topic " + topic;
    }
}
