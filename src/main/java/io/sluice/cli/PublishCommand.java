package io.sluice.cli;

import io.sluice.client.OutboundMessage;
import io.sluice.client.PublishGuarantees;
import io.sluice.client.PublishOutcome;
import io.sluice.client.Published;
import io.sluice.client.SluiceClient;
import io.sluice.client.SluiceClientException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sluice publish}: one message from the argument, a file or stdin, or with {@code --batch}
 * one message per line of a file, sent in BatchPublish requests. Prints {@code id=... sequence=...}
 * per stored message.
 */
@Command(name = "publish", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Publish a message (at most 64 MiB): the PAYLOAD argument, the contents of --file, or else "
                + "all of stdin.",
                "With --batch, publish one message per line of FILE ('-' for stdin; empty lines are skipped).",
                "Prints id=ID sequence=SEQUENCE for each message once it is stored on disk."})
final class PublishCommand extends ClientCommand implements Callable<Integer> {
    /** Lines per BatchPublish request, and payload bytes: well under the broker's default 16 MiB batch limit. */
    static final int BATCH_MESSAGES = 1000;
    static final int BATCH_BYTES = 4 << 20;
    /**
     * Most bytes publish reads for one message (the payload from stdin or --file, or one --batch line):
     * its memory stays bounded whatever the input. The broker's own limit (--max-message-bytes, 4 MiB by
     * default) is not known here and may be set higher, but not usefully past this: a Sluice client
     * accepts at most 64 MiB per delivery, so a larger message could never be read back.
     */
    static final int MAX_PAYLOAD_BYTES = 64 << 20;

    @Parameters(index = "0", paramLabel = "TOPIC", description = "Topic to publish to (created if absent).")
    String topic;

    @Parameters(index = "1", arity = "0..1", paramLabel = "PAYLOAD", description = "The payload, as text.")
    String payload;

    // A list of pairs rather than picocli's Map option: its message for a value without '=' reads
    // "Value for option option '--attribute' ...".
    @Option(names = {"-a", "--attribute"}, paramLabel = "KEY=VALUE", converter = KeyValue.class,
            description = "An attribute of the message (of each message with --batch); repeatable.")
    List<String> attributePairs = new ArrayList<>();

    /** Checks that an attribute is KEY=VALUE; the pair is kept as given. */
    static final class KeyValue implements CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            if (value.indexOf('=') < 0) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not KEY=VALUE");
            }
            return value;
        }
    }

    @Option(names = "--file", paramLabel = "FILE", description = "Publish the contents of FILE as one message.")
    Path file;

    @Option(names = "--batch", paramLabel = "FILE",
            description = "Publish each line of FILE ('-' for stdin) as a message, in BatchPublish requests.")
    String batch;

    @Option(names = "--dedup-id", paramLabel = "ID", description = "Publish idempotently: a publish with the same "
            + "ID within the topic's dedup window stores nothing and prints the original message (duplicate=true).")
    String dedupId;

    @Option(names = "--expect-last-seq", paramLabel = "SEQUENCE", converter = Sequences.class, description = "Store only if the topic's last "
            + "sequence is SEQUENCE (0 for a topic that never held a message); else the publish is refused.")
    Long expectLastSequence;

    private final InputStream stdin;

    PublishCommand(InputStream stdin) {
        this.stdin = stdin;
    }

    @Override
    public Integer call() throws IOException {
        String problem = problem();
        if (problem != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), problem);
        }
        PrintWriter out = out();
        try (SluiceClient client = connect()) {
            if (batch != null) {
                publishLines(client, out);
            } else if (dedupId != null || expectLastSequence != null) {
                var guarantees = new PublishGuarantees(dedupId, expectLastSequence == null ? OptionalLong.empty()
                        : OptionalLong.of(expectLastSequence));
                PublishOutcome outcome = client.publish(topic, payload(), attributes(), guarantees);
                Published p = outcome.published();
                out.println("id=" + p.id() + " sequence=" + Long.toUnsignedString(p.sequence())
                        + (outcome.duplicate() ? " duplicate=true" : ""));
            } else {
                print(out, client.publish(topic, payload(), attributes()));
            }
        }
        out.flush();
        return 0;
    }

    /** What is wrong with the arguments as a whole (a usage error), or null. */
    @Override
    String usageProblem() {
        int sources = (payload != null ? 1 : 0) + (file != null ? 1 : 0) + (batch != null ? 1 : 0);
        if (sources > 1) {
            return "give the payload as an argument, with --file, or with --batch: only one of them";
        }
        if (batch != null && (dedupId != null || expectLastSequence != null)) {
            return "--dedup-id and --expect-last-seq apply to one message, not to --batch";
        }
        return null;
    }

    /** The attributes given, in order; a key given twice keeps its last value. */
    private Map<String, String> attributes() {
        var map = new LinkedHashMap<String, String>();
        for (String pair : attributePairs) {
            int eq = pair.indexOf('=');
            map.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        return map;
    }

    private byte[] payload() throws IOException {
        if (payload != null) {
            return payload.getBytes(StandardCharsets.UTF_8);
        }
        if (file != null) {
            return read(file);
        }
        return bounded(stdin, "stdin");
    }

    /** At most {@link #MAX_PAYLOAD_BYTES} of {@code in}; a larger payload fails, the rest of it unread. */
    private static byte[] bounded(InputStream in, String what) throws IOException {
        byte[] bytes = in.readNBytes(MAX_PAYLOAD_BYTES + 1);
        if (bytes.length > MAX_PAYLOAD_BYTES) {
            throw new CommandFailure(what + " holds more than " + MAX_PAYLOAD_BYTES + " bytes (64 MiB), the most "
                    + "publish sends as one message; nothing was sent");
        }
        return bytes;
    }

    private void publishLines(SluiceClient client, PrintWriter out) throws IOException {
        Map<String, String> attributes = attributes();
        var progress = new Progress();
        // On Ctrl-C the batch in flight is answered and printed, then it says how far the input was stored.
        try (InputStream in = batch.equals("-") ? stdin : open(Path.of(batch));
             CtrlC ctrlC = CtrlC.install(() -> progress.tell(err(), "stopped by a signal"))) {
            var lines = new Lines(in, MAX_PAYLOAD_BYTES);
            List<OutboundMessage> pending = new ArrayList<>();
            long bytes = 0;
            byte[] line;
            while (true) {
                if (!pending.isEmpty() && lines.caughtUp()) {
                    // Nothing more to read now (a pipe whose writer is slower, `tail -f`): what was read is
                    // stored now, not once 1,000 lines or the end have come.
                    if (!send(client, pending, lines.number(), out, progress, ctrlC)) {
                        return;
                    }
                    bytes = 0;
                }
                if ((line = next(lines, client, pending, out, progress, ctrlC)) == null) {
                    break;
                }
                if (line.length == 0) {
                    continue;
                }
                if (!pending.isEmpty() && (pending.size() >= BATCH_MESSAGES || bytes + line.length > BATCH_BYTES)) {
                    if (!send(client, pending, lines.number() - 1, out, progress, ctrlC)) {
                        return;
                    }
                    bytes = 0;
                }
                pending.add(OutboundMessage.of(line, attributes));
                bytes += line.length;
            }
            send(client, pending, lines.number(), out, progress, ctrlC);
        }
    }

    /** The next line; at one over the limit, the lines before it are sent, then it fails naming the line. */
    private byte[] next(Lines lines, SluiceClient client, List<OutboundMessage> pending, PrintWriter out,
                        Progress progress, CtrlC ctrlC) throws IOException {
        try {
            return lines.next();
        } catch (Lines.TooLong e) {
            send(client, pending, e.number - 1, out, progress, ctrlC);
            throw new CommandFailure("line " + e.number + " of " + (batch.equals("-") ? "stdin" : batch)
                    + " is longer than " + MAX_PAYLOAD_BYTES + " bytes (64 MiB), the most publish sends as one "
                    + "message; nothing from it on was sent; " + progress.stored());
        }
    }

    /**
     * Sends the pending lines as one BatchPublish, up to input line {@code through}, and prints their ids;
     * false (nothing sent) once Ctrl-C came. A failure says how far the input was stored before it.
     */
    private boolean send(SluiceClient client, List<OutboundMessage> pending, long through, PrintWriter out,
                         Progress progress, CtrlC ctrlC) {
        if (pending.isEmpty()) {
            return true;
        }
        if (!ctrlC.begin()) {
            return false;
        }
        try {
            client.publishBatch(topic, pending).forEach(p -> print(out, p));
            out.flush();
            progress.add(pending.size(), through);
        } catch (SluiceClientException e) {
            throw new CommandFailure(e.getMessage() + "; " + progress.stored(), e);
        } finally {
            ctrlC.end();
        }
        pending.clear();
        return true;
    }

    /**
     * How much of a --batch input is stored, for a user who resumes it: written by the command's thread
     * after each answered batch, read by it or, on Ctrl-C, by the shutdown hook once no batch is in flight.
     */
    private static final class Progress {
        private long messages;
        private long throughLine;

        void add(int count, long line) {
            messages += count;
            throughLine = line;
        }

        String stored() {
            return messages == 0 ? "no message of this input was stored"
                    : messages + (messages == 1 ? " message" : " messages") + " of this input stored (its lines 1-"
                    + throughLine + ", ids above)";
        }

        void tell(PrintWriter err, String why) {
            err.println("sluice: " + why + "; " + stored());
            err.flush();
        }
    }

    private static void print(PrintWriter out, Published p) {
        out.println("id=" + p.id() + " sequence=" + Long.toUnsignedString(p.sequence()));
    }

    /** The file's bytes; a file over the limit fails from its size, unread. */
    private static byte[] read(Path path) throws IOException {
        try {
            if (Files.isRegularFile(path) && Files.size(path) > MAX_PAYLOAD_BYTES) {
                throw new CommandFailure(path + " is " + Files.size(path) + " bytes; publish sends at most "
                        + MAX_PAYLOAD_BYTES + " bytes (64 MiB) as one message; nothing was sent");
            }
            try (InputStream in = Files.newInputStream(path)) {
                return bounded(in, path.toString());
            }
        } catch (NoSuchFileException e) {
            throw new CommandFailure("cannot read " + path + ": no such file");
        } catch (IOException e) {
            throw new CommandFailure("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    private static InputStream open(Path path) throws IOException {
        try {
            return Files.newInputStream(path);
        } catch (NoSuchFileException e) {
            throw new CommandFailure("cannot read " + path + ": no such file");
        } catch (IOException e) {
            throw new CommandFailure("cannot read " + path + ": " + e.getMessage(), e);
        }
    }
}
