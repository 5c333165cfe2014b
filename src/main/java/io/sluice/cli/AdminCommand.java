package io.sluice.cli;

import io.sluice.client.SluiceClient;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** A client command that makes one call on a connected client and prints one line about it. */
abstract class AdminCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    TargetOption target;

    /** Does the call; answers the line to print, or throws {@link CommandFailure} naming the problem. */
    abstract String run(SluiceClient client);

    @Override
    public final Integer call() {
        String line;
        try (SluiceClient client = target.connect()) {
            line = run(client);
        }
        spec.commandLine().getOut().println(line);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
