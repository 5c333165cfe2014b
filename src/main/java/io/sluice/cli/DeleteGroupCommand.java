package io.sluice.cli;

import io.sluice.client.SluiceClient;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sluice delete-group}: forgets a consumer group and its cursor. */
@Command(name = "delete-group", mixinStandardHelpOptions = true,
        description = "Delete consumer GROUP of TOPIC and its cursor; the group starts afresh next time.")
final class DeleteGroupCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    TargetOption target;

    @Parameters(index = "0", paramLabel = "TOPIC")
    String topic;

    @Parameters(index = "1", paramLabel = "GROUP")
    String group;

    @Override
    public Integer call() {
        try (SluiceClient client = target.connect()) {
            if (!client.deleteGroup(topic, group)) {
                throw new CommandFailure("group " + group + " of topic " + topic + " does not exist");
            }
        }
        spec.commandLine().getOut().println("deleted group " + group + " of topic " + topic);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
