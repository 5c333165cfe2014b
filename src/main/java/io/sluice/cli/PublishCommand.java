package io.sluice.cli;

import io.sluice.client.OutboundMessage;
import io.sluice.client.PublishGuarantees;
import io.sluice.client.PublishOutcome;
import io.sluice.client.Published;
import java.util.OptionalLong;
import io.sluice.client.SluiceClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
        description = {"Publish a message: the PAYLOAD argument, the contents of --file, or else all of stdin.",
                "With --batch, publish one message per line of FILE ('-' for stdin; empty lines are skipped).",
                "Prints id=ID sequence=SEQUENCE for each message once it is stored on disk."})
final class PublishCommand extends ClientCommand implements Callable<Integer> {
    /** Lines per BatchPublish request, and payload bytes: well under the broker's default 16 MiB batch limit. */
    static final int BATCH_MESSAGES = 1000;
    static final int BATCH_BYTES = 4 << 20;

    @Parameters(index = "0", paramLabel = "TOPIC", description = "Topic to publish to (created if absent).")
    String topic;

    @Parameters(index = "1", arity = "0..1", paramLabel = "PAYLOAD", description = "The payload, as text.")
    String payload;

    @Option(names = {"-a", "--attribute"}, paramLabel = "KEY=VALUE",
            description = "An attribute of the message (of each message with --batch); repeatable.")
    Map<String, String> attributes = new LinkedHashMap<>();

    @Option(names = "--file", paramLabel = "FILE", description = "Publish the contents of FILE as one message.")
    Path file;

    @Option(names = "--batch", paramLabel = "FILE",
            description = "Publish each line of FILE ('-' for stdin) as a message, in BatchPublish requests.")
    String batch;

    @Option(names = "--dedup-id", paramLabel = "ID", description = "Publish idempotently: a publish with the same "
            + "ID within the topic's dedup window stores nothing and prints the original message (duplicate=true).")
    String dedupId;

    @Option(names = "--expect-last-seq", paramLabel = "SEQUENCE", description = "Store only if the topic's last "
            + "sequence is SEQUENCE (0 for a topic that never held a message); else the publish is refused.")
    Long expectLastSequence;

    private final InputStream stdin;

    PublishCommand(InputStream stdin) {
        this.stdin = stdin;
    }

    @Override
    public Integer call() throws IOException {
        String problem = usageProblem();
        if (problem != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), problem);
        }
        PrintWriter out = out();
        try (SluiceClient client = target.connect()) {
            if (batch != null) {
                if (dedupId != null || expectLastSequence != null) {
                    throw new CommandLine.ParameterException(spec.commandLine(),
                            "--dedup-id and --expect-last-seq apply to one message, not to --batch");
                }
                publishLines(client, out);
            } else if (dedupId != null || expectLastSequence != null) {
                var guarantees = new PublishGuarantees(dedupId, expectLastSequence == null ? OptionalLong.empty()
                        : OptionalLong.of(expectLastSequence));
                PublishOutcome outcome = client.publish(topic, payload(), attributes, guarantees);
                Published p = outcome.published();
                out.println("id=" + p.id() + " sequence=" + Long.toUnsignedString(p.sequence())
                        + (outcome.duplicate() ? " duplicate=true" : ""));
            } else {
                print(out, client.publish(topic, payload(), attributes));
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
        return expectLastSequence == null ? null : negative("--expect-last-seq", expectLastSequence);
    }

    private byte[] payload() throws IOException {
        if (payload != null) {
            return payload.getBytes(StandardCharsets.UTF_8);
        }
        if (file != null) {
            return read(file);
        }
        return stdin.readAllBytes();
    }

    private void publishLines(SluiceClient client, PrintWriter out) throws IOException {
        InputStream in = batch.equals("-") ? stdin : open(Path.of(batch));
        try (var reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            List<OutboundMessage> pending = new ArrayList<>();
            long bytes = 0;
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isEmpty()) {
                    continue;
                }
                byte[] body = line.getBytes(StandardCharsets.UTF_8);
                if (!pending.isEmpty() && (pending.size() >= BATCH_MESSAGES || bytes + body.length > BATCH_BYTES)) {
                    client.publishBatch(topic, pending).forEach(p -> print(out, p));
                    pending.clear();
                    bytes = 0;
                }
                pending.add(OutboundMessage.of(body, attributes));
                bytes += body.length;
            }
            if (!pending.isEmpty()) {
                client.publishBatch(topic, pending).forEach(p -> print(out, p));
            }
        }
    }

    private static void print(PrintWriter out, Published p) {
        out.println("id=" + p.id() + " sequence=" + Long.toUnsignedString(p.sequence()));
    }

    private static byte[] read(Path path) throws IOException {
        try {
            return Files.readAllBytes(path);
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
