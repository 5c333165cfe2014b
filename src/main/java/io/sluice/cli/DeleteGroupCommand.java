package io.sluice.cli;

import io.sluice.client.SluiceClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code sluice delete-group}: forgets a consumer group and its cursor. */
@Command(name = "delete-group", mixinStandardHelpOptions = true,
        description = "Delete consumer GROUP of TOPIC and its cursor; the group starts afresh next time.")
final class DeleteGroupCommand extends AdminCommand {
    @Parameters(index = "0", paramLabel = "TOPIC")
    String topic;

    @Parameters(index = "1", paramLabel = "GROUP")
    String group;

    @Override
    String run(SluiceClient client) {
        if (!client.deleteGroup(topic, group)) {
            throw new CommandFailure("group " + shown(group) + " of topic " + topic + " does not exist");
        }
        return "deleted group " + shown(group) + " of topic " + topic;
    }
}
