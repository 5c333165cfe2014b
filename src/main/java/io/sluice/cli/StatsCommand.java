package io.sluice.cli;

import io.sluice.client.SluiceClient;
import io.sluice.client.TopicStats;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code sluice stats}: one row per topic and consumer group: the topic's message count and sequence
 * range, the group's cursor (last acknowledged sequence) and lag (messages after the cursor).
 */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = {"Show each topic's messages and each consumer group's cursor and lag.",
                "CURSOR is the last acknowledged sequence; LAG counts the messages after it."})
final class StatsCommand extends ClientCommand implements Callable<Integer> {
    private static final String[] HEADER = {"TOPIC", "MESSAGES", "FIRST", "LAST", "GROUP", "CURSOR", "LAG"};
    private static final boolean[] NUMERIC = {false, true, true, true, false, true, true};

    @Parameters(arity = "0..*", paramLabel = "TOPIC", description = "Topics to show (default: all).")
    List<String> topics = new ArrayList<>();

    @Override
    public Integer call() {
        PrintWriter out = out();
        List<TopicStats> stats;
        try (SluiceClient client = connect()) {
            stats = client.stats(topics.toArray(String[]::new));
        }
        Set<String> missing = new LinkedHashSet<>(topics);
        stats.forEach(s -> missing.remove(s.topic()));
        if (stats.isEmpty() && topics.isEmpty()) {
            out.println("no topics");
        } else if (!stats.isEmpty()) {
            print(out, rows(stats));
        }
        out.flush();
        if (!missing.isEmpty()) {
            throw new CommandFailure((missing.size() == 1 ? "no topic named " : "no topics named ")
                    + String.join(", ", missing));
        }
        return 0;
    }

    private static List<String[]> rows(List<TopicStats> stats) {
        var rows = new ArrayList<String[]>();
        rows.add(HEADER);
        for (TopicStats s : stats) {
            String messages = Long.toUnsignedString(s.totalMessages());
            String first = s.totalMessages() == 0 ? "-" : Long.toUnsignedString(s.firstSequence());
            String last = s.totalMessages() == 0 ? "-" : Long.toUnsignedString(s.lastSequence());
            if (s.groups().isEmpty()) {
                rows.add(new String[] {s.topic(), messages, first, last, "-", "-", "-"});
            }
            for (TopicStats.GroupStats g : s.groups()) {
                rows.add(new String[] {s.topic(), messages, first, last, g.group(),
                        Long.toUnsignedString(g.cursor()), Long.toUnsignedString(g.pending())});
            }
        }
        return rows;
    }

    /** Columns two spaces apart; numbers right-aligned. */
    private static void print(PrintWriter out, List<String[]> rows) {
        int[] width = new int[HEADER.length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            var line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                String cell = row[i];
                String pad = " ".repeat(width[i] - cell.length());
                boolean right = NUMERIC[i] && row != rows.getFirst();
                line.append(right ? pad + cell : cell + (i == row.length - 1 ? "" : pad));
                if (i < row.length - 1) {
                    line.append("  ");
                }
            }
            out.println(line.toString().stripTrailing());
        }
    }
}
