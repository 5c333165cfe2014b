package io.sluice.cli;

import io.sluice.client.SluiceClient;
import io.sluice.client.TopicInfo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code sluice topics}: the topic names, one per line, in order. */
@Command(name = "topics", mixinStandardHelpOptions = true, description = "List the topics, one name per line.")
final class TopicsCommand extends ClientCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        PrintWriter out = out();
        try (SluiceClient client = connect()) {
            for (TopicInfo t : client.topics()) {
                out.println(t.name());
            }
        }
        out.flush();
        return 0;
    }
}
