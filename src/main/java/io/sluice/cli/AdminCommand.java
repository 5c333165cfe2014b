package io.sluice.cli;

import io.sluice.client.SluiceClient;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/** A client command that makes one call on a connected client and prints one line about it. */
abstract class AdminCommand extends ClientCommand implements Callable<Integer> {
    /** Does the call; answers the line to print, or throws {@link CommandFailure} naming the problem. */
    abstract String run(SluiceClient client);

    @Override
    public final Integer call() {
        String problem = problem();
        if (problem != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), problem);
        }
        String line;
        try (SluiceClient client = connect()) {
            line = run(client);
        }
        out().println(line);
        out().flush();
        return 0;
    }
}
