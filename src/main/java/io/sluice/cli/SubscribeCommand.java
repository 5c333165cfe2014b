package io.sluice.cli;

import io.sluice.client.Message;
import io.sluice.client.SluiceClient;
import io.sluice.client.SluiceClientException;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import io.sluice.client.TopicStats;
import io.sluice.client.SubscriptionOptions.Position;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sluice subscribe}: prints the messages of a topic as they arrive, one per line, until
 * {@code --count} messages came, {@code --timeout} passed without one, or Ctrl-C. Before it starts it
 * says on stderr what it is about to do when that may surprise: a new group starting after the
 * messages a topic already holds, a {@code --from} ignored because the group has a cursor, a topic
 * that is new or empty. The main thread blocks in {@link Subscription#receive()}; on Ctrl-C the
 * message in hand is printed and acknowledged, then the subscription is closed from the shutdown hook,
 * which commits that last ack before the JVM exits ({@link CtrlC}).
 */
@Command(name = "subscribe", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print the messages of TOPIC as they arrive: each payload as it is (its bytes), one per "
                + "line, or with --json one object per line.",
                "Runs until --count messages came, --timeout passed without a message, or Ctrl-C."})
final class SubscribeCommand extends ClientCommand implements Callable<Integer> {

    /** Where to start: {@code earliest}, {@code latest}, a sequence, or a time (the sequence holds its Unix ms). */
    record StartAt(Position position, long sequence) {
    }

    static final class StartAtConverter implements CommandLine.ITypeConverter<StartAt> {
        @Override
        public StartAt convert(String value) {
            StartAt at = parse(value);
            if (at == null) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not earliest, latest, a sequence or an "
                        + "RFC 3339 time such as 2026-01-31T09:00:00Z");
            }
            return at;
        }

        /** {@code earliest}, {@code latest}, a sequence or an RFC 3339 time; null for anything else. */
        static StartAt parse(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            if (v.equals("earliest")) {
                return new StartAt(Position.EARLIEST, 0);
            }
            if (v.equals("latest")) {
                return new StartAt(Position.LATEST, 0);
            }
            try {
                long sequence = Long.parseLong(v);
                if (sequence >= 0) {
                    return new StartAt(Position.OFFSET, sequence);
                }
            } catch (NumberFormatException e) {
                // not a sequence
            }
            try {
                return new StartAt(Position.TIMESTAMP,
                        java.time.OffsetDateTime.parse(value.trim()).toInstant().toEpochMilli());
            } catch (java.time.format.DateTimeParseException e) {
                return null;
            }
        }
    }

    /** A name the broker accepts: a subscription it would refuse gets no notice before its error. */
    private static final Pattern VALID_NAME = Pattern.compile("[A-Za-z0-9._-]{1,255}");

    @Parameters(index = "0", paramLabel = "TOPIC", description = "Topic to read (created if absent).")
    String topic;

    @Option(names = {"-g", "--group"}, defaultValue = SubscriptionOptions.DEFAULT_GROUP, paramLabel = "GROUP",
            description = "Consumer group; its cursor remembers what was acknowledged (default ${DEFAULT-VALUE}).")
    String group;

    @Option(names = "--from", defaultValue = "latest", paramLabel = "earliest|latest|SEQUENCE|TIME",
            converter = StartAtConverter.class,
            description = "Where a group without a cursor (or a browse) starts (default ${DEFAULT-VALUE}); TIME is "
                    + "RFC 3339, e.g. 2026-01-31T09:00:00Z: the first message at or after it. A group with a cursor "
                    + "resumes after it.")
    StartAt from;

    @Option(names = "--credits", defaultValue = "" + SubscriptionOptions.DEFAULT_CREDIT_WINDOW, paramLabel = "N",
            description = "Credit window: most messages the broker sends ahead of printing (default ${DEFAULT-VALUE}).")
    int credits;

    @Option(names = "--ack", description = "Acknowledge each message after printing it (moves the group's cursor).")
    boolean ack;

    @Option(names = "--browse", description = "Read without a consumer group: no cursor is read or moved.")
    boolean browse;

    @Option(names = "--shared", description = "Join a shared group (competing consumers; created shared when new): "
            + "each message is leased to one consumer at a time, and --ack settles exactly that message.")
    boolean shared;

    @Option(names = {"-n", "--count"}, defaultValue = "0", paramLabel = "N",
            description = "Exit after N messages (0, the default, means no limit).")
    int count;

    @Option(names = "--json", description = "Print one JSON object per message: id, sequence, timestamp, "
            + "delivery_count, attributes, and payload (text) or, for a payload that is not UTF-8, payload_base64.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = Durations.class,
            description = "Stop after DURATION without a message, e.g. 5s (an error when --count is not reached).")
    Duration timeout;

    @Option(names = "--reconnect-for", defaultValue = "10s", paramLabel = "DURATION", converter = Durations.class,
            description = "How long to keep reconnecting when the broker is unreachable (default ${DEFAULT-VALUE}).")
    Duration reconnectFor;

    /** Set by QuickLine: whether --from was on the command line (picocli's parse result says so otherwise). */
    Boolean fromGiven;

    @Override
    public Integer call() throws InterruptedException {
        String problem = problem();
        if (problem != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), problem);
        }
        PrintWriter out = out();
        try (SluiceClient client = connect()) {
            List<TopicStats> stats = null;
            try {
                stats = client.stats(topic);
            } catch (SluiceClientException.Unavailable e) {
                // the subscription keeps trying for --reconnect-for, and says so if it gives up
                if (!reconnectFor.isZero()) {
                    err().println("sluice: " + Failures.line(e, this) + "; trying again for up to "
                            + Durations.format(reconnectFor) + " (--reconnect-for)");
                    err().flush();
                }
            }
            if (stats != null && (browse || VALID_NAME.matcher(group).matches())) {
                boolean given = fromGiven != null ? fromGiven : spec.commandLine().getParseResult().hasMatchedOption("--from");
                explain(stats, given, err());
            }
            return consume(client, out);
        }
    }

    @Override
    String usageProblem() {
        if (browse && shared) {
            return "--shared and --browse do not go together: a browse has no group";
        }
        if (browse && ack) {
            return "--ack and --browse do not go together: a browse has no cursor";
        }
        if (credits < 1 || credits > SubscriptionOptions.MAX_CREDIT_WINDOW) {
            return "--credits must be 1-" + SubscriptionOptions.MAX_CREDIT_WINDOW + ", not " + credits;
        }
        if (count < 0) {
            return "--count must not be negative: " + count;
        }
        return null;
    }

    private int consume(SluiceClient client, PrintWriter out) throws InterruptedException {
        // On Ctrl-C the message in hand is printed and acknowledged, then the close commits that ack.
        try (Subscription subscription = shared ? client.subscribeShared(options()) : client.subscribe(options());
             CtrlC ctrlC = CtrlC.install(subscription::close)) {
            return receive(subscription, out, ctrlC);
        }
    }

    /** Says on stderr where this subscription will start when the user might expect otherwise. */
    private void explain(List<TopicStats> stats, boolean fromGiven, PrintWriter err) {
        if (stats.isEmpty()) {
            // Said before the broker has answered the subscription: with an auth file, a topic that exists is
            // also missing from the stats of a caller without a grant on it, whose subscription is refused.
            err.println("sluice: topic " + topic + " does not exist yet, or these credentials may not see it; if the "
                    + "broker accepts the subscription, it creates the topic and this waits for its first message");
        } else if (stats.getFirst().totalMessages() == 0) {
            err.println("sluice: topic " + topic + " is empty; waiting for its first message");
        } else if (!browse) {
            TopicStats t = stats.getFirst();
            var existing = t.groups().stream().filter(g -> g.group().equals(group)).findFirst();
            if (existing.isPresent() && fromGiven) {
                var g = existing.get();
                err.println("sluice: group " + group + " already has a cursor on " + topic + " (sequence " + g.cursor()
                        + ", " + g.pending() + " messages after it), so --from is ignored and it resumes after its "
                        + "cursor; to read from the beginning: sluice reset-cursor " + topic + " " + group + " 0");
            } else if (existing.isEmpty() && from.position() == Position.LATEST) {
                err.println("sluice: group " + group + " is new and starts after the latest message: the "
                        + t.totalMessages() + " messages already in " + topic + " are skipped (--from earliest "
                        + "reads them; once the group exists: sluice reset-cursor " + topic + " " + group + " 0)");
            }
        }
        err.flush();
    }

    private SubscriptionOptions options() {
        // With --count, the broker is never asked for more than will be printed: the rest stays undelivered.
        var options = SubscriptionOptions.of(topic).withGroup(group).withCreditWindow(credits)
                .withMaxMessages(count).withReconnectFor(reconnectFor);
        options = switch (from.position()) {
            case OFFSET -> options.fromOffset(from.sequence());
            case TIMESTAMP -> options.fromTime(java.time.Instant.ofEpochMilli(from.sequence()));
            default -> options.from(from.position());
        };
        return browse ? options.browsing() : options;
    }

    private int receive(Subscription subscription, PrintWriter out, CtrlC ctrlC) throws InterruptedException {
        int received = 0;
        try {
            while (count == 0 || received < count) {
                Optional<Message> next = timeout == null ? Optional.of(subscription.receive())
                        : subscription.receive(timeout);
                if (next.isEmpty()) {
                    if (count > 0) {
                        throw new CommandFailure("received " + received + " of " + count + " messages; none came for "
                                + timeout.toMillis() + " ms");
                    }
                    break;
                }
                if (!ctrlC.begin()) {
                    break;   // Ctrl-C: this message is neither printed nor acknowledged, so it comes again
                }
                try {
                    print(next.get(), subscription, out);
                } finally {
                    ctrlC.end();
                }
                received++;
            }
        } catch (IllegalStateException e) {
            // closed by Ctrl-C's last words while waiting for a message: a normal end
        }
        return 0;
    }

    /** Prints one message and, with --ack, acknowledges it: a printed message is always acknowledged. */
    private void print(Message m, Subscription subscription, PrintWriter out) {
        if (!json && m.attributes().containsKey("sluice.dlq.reason")) {
            out.println(deadLetter(m));
        }
        if (json) {
            out.println(Json.message(m));
        } else if (stdout != null) {
            // The payload as it is: text in any encoding, or binary, for a pipe or a file to take whole.
            out.flush();
            try {
                stdout.write(m.payload());
                stdout.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            out.println();
        } else {
            out.println(m.payloadText());   // a writer without bytes beneath it (in-process use): UTF-8 text
        }
        out.flush();
        if (ack) {
            subscription.ack(m);
        }
    }

    /** The line printed before a dead letter's payload: where it came from and why (its sluice.dlq.* attributes). */
    static String deadLetter(Message m) {
        var a = m.attributes();
        String detail = a.getOrDefault("sluice.dlq.detail", "");
        return "# dead letter from topic " + a.get("sluice.dlq.topic") + " sequence " + a.get("sluice.dlq.sequence")
                + " (id " + a.get("sluice.dlq.message_id") + "), group " + a.get("sluice.dlq.group") + ": "
                + a.get("sluice.dlq.reason") + " after " + a.get("sluice.dlq.delivery_count") + " deliveries"
                + (detail.isEmpty() ? "" : ": " + detail);
    }

}
