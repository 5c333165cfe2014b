package io.sluice.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.Await;
import io.sluice.client.Message;
import io.sluice.client.SluiceClient;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import io.sluice.client.TopicStats;
import io.sluice.server.TestBroker;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sluice CLI run in-process through Main.run against a real broker: output and exit codes. */
class CliTest {
    private static final Pattern PUBLISHED = Pattern.compile("id=([0-9a-f-]{36}) sequence=(\\d+)");

    @TempDir
    Path dir;

    private TestBroker broker;
    private SluiceClient client;
    private String target;

    record Result(int exit, String out, String err) {
        List<String> lines() {
            return out.isEmpty() ? List.of() : List.of(out.split("\n"));
        }

        long sequence(int line) {
            Matcher m = PUBLISHED.matcher(lines().get(line));
            assertTrue(m.matches(), lines().get(line));
            return Long.parseLong(m.group(2));
        }
    }

    @BeforeEach
    void start() {
        broker = TestBroker.start(dir.resolve("data"));
        target = "127.0.0.1:" + broker.port();
        client = SluiceClient.connect(target);
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        broker.close();
    }

    private Result sluiceWithInput(String stdin, String... args) {
        var out = new StringWriter();
        var err = new StringWriter();
        int exit = Main.run(new ByteArrayInputStream(stdin.getBytes(UTF_8)), new PrintWriter(out, true),
                new PrintWriter(err, true), args);
        return new Result(exit, out.toString().replace("\r\n", "\n"), err.toString().replace("\r\n", "\n"));
    }

    /** Runs {@code sluice ARGS --target <the test broker>}. */
    private Result sluice(String... args) {
        return sluiceWithInput("", Stream.concat(Arrays.stream(args), Stream.of("--target", target))
                .toArray(String[]::new));
    }

    private static void assertOk(Result r) {
        assertEquals(0, r.exit(), () -> "exit " + r.exit() + ", stderr: " + r.err());
        assertEquals("", r.err());
    }

    /** A failure: the given exit code and exactly one stderr line, {@code sluice: <start>...}. */
    private static void assertFails(Result r, String start) {
        assertEquals(1, r.exit(), () -> "stdout: " + r.out() + " stderr: " + r.err());
        assertTrue(r.err().startsWith("sluice: " + start), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    private TopicStats.GroupStats group(String topic, String name) {
        return client.stats(topic).getFirst().groups().stream().filter(g -> g.group().equals(name)).findFirst()
                .orElseThrow();
    }

    @Test
    void publishPrintsIdAndSequenceAndStoresAttributes() throws InterruptedException {
        Result r = sluice("publish", "orders", "hello world", "-a", "kind=greeting", "-a", "n=1");
        assertOk(r);
        assertEquals(1, r.lines().size());
        long sequence = r.sequence(0);

        try (Subscription s = client.subscribe(SubscriptionOptions.of("orders")
                .from(SubscriptionOptions.Position.EARLIEST))) {
            Message m = s.receive(Duration.ofSeconds(20)).orElseThrow();
            assertEquals(sequence, m.sequence());
            assertEquals("hello world", m.payloadText());
            assertEquals(Map.of("kind", "greeting", "n", "1"), m.attributes());
        }
    }

    @Test
    void publishTakesThePayloadFromAFileOrStdin() throws IOException {
        Path file = dir.resolve("payload.bin");
        Files.write(file, new byte[] {0, 1, 2, (byte) 0xff});
        assertOk(sluice("publish", "files", "--file", file.toString()));
        assertOk(sluiceWithInput("piped\n", "publish", "files", "--target", target));

        var stats = client.stats("files").getFirst();
        assertEquals(2, stats.totalMessages());
    }

    @Test
    void publishBatchPublishesOneMessagePerLine() throws IOException {
        Path lines = dir.resolve("lines.txt");
        Files.writeString(lines, "one\ntwo\n\nthree\n");
        Result r = sluice("publish", "batch", "--batch", lines.toString(), "-a", "source=file");
        assertOk(r);
        assertEquals(3, r.lines().size(), r.out());
        assertEquals(r.sequence(0) + 1, r.sequence(1));
        assertEquals(r.sequence(0) + 2, r.sequence(2));

        Result piped = sluiceWithInput("four\nfive", "publish", "batch", "--batch", "-", "--target", target);
        assertOk(piped);
        assertEquals(2, piped.lines().size());
        assertEquals(5, client.stats("batch").getFirst().totalMessages());
    }

    @Test
    void publishBatchStoresWhatAPipeHasGivenWithoutWaitingForMore() throws Exception {
        var pipe = new java.io.PipedOutputStream();
        var in = new java.io.PipedInputStream(pipe);
        var out = new StringWriter();
        var err = new StringWriter();
        var run = java.util.concurrent.CompletableFuture.supplyAsync(() -> Main.run(in, new PrintWriter(out, true),
                new PrintWriter(err, true), "publish", "tailed", "--batch", "-", "--target", target));
        pipe.write("a\nb\nc\n".getBytes(UTF_8));
        pipe.flush();
        // the writer is still there: the three lines are stored all the same
        Await.until("the three lines stored while the pipe stays open",
                () -> client.stats().stream().anyMatch(t -> t.topic().equals("tailed") && t.totalMessages() == 3));
        pipe.write("d\n".getBytes(UTF_8));
        pipe.close();
        assertEquals(0, run.get(30, java.util.concurrent.TimeUnit.SECONDS), err.toString());
        assertEquals(4, out.toString().lines().count(), out.toString());
        assertEquals(4, client.stats("tailed").getFirst().totalMessages());
    }

    @Test
    void adminCommandsTakeTheProtocolsWholeRangesAndNameTheDefaultGroup() {
        assertOk(sluice("publish", "ranges", "x"));
        String top = Long.toUnsignedString(-1L);
        assertFails(sluice("reset-cursor", "ranges", "g", top), "INVALID_ARGUMENT: sequence " + top + " is beyond");
        assertFails(sluice("publish", "ranges", "y", "--expect-last-seq", top), "FAILED_PRECONDITION");
        assertEquals(2, sluice("reset-cursor", "ranges", "g", "-1").exit());
        assertEquals(2, sluice("reset-cursor", "ranges", "g", "18446744073709551616").exit());

        Result reset = sluice("reset-cursor", "ranges", "", "0");
        assertOk(reset);
        assertTrue(reset.out().startsWith("cursor of group default on topic ranges"), reset.out());
        Result configured = sluice("group", "configure", "ranges", "", "--ack-wait", "49d");
        assertOk(configured);
        assertTrue(configured.out().startsWith("consumer group default on topic ranges: ack wait 49d"),
                configured.out());
        Result tooLong = sluice("group", "configure", "ranges", "g", "--ack-wait", "50d");
        assertEquals(2, tooLong.exit(), tooLong.err());
        assertTrue(tooLong.err().startsWith("--ack-wait must be at most 4294967295ms"), tooLong.err());
        assertEquals(2, sluice("group", "configure", "ranges", "g", "--backoff", "1s,50d").exit());
        Result deleted = sluice("delete-group", "ranges", "");
        assertOk(deleted);
        assertEquals("deleted group default of topic ranges\n", deleted.out());
    }

    @Test
    void publishRefusesTwoPayloadsAsAUsageError() {
        Result r = sluice("publish", "orders", "text", "--file", "x");
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("give the payload as an argument, with --file, or with --batch"), r.err());
    }

    @Test
    void groupConfigureSubscribeSharedAndBrowsingADeadLetterTopic() {
        Result configured = sluice("group", "configure", "jobs", "workers", "--shared", "--ack-wait", "5s",
                "--max-deliveries", "1", "--dead-letter-topic", "jobs.dlq", "--backoff", "1s,2s");
        assertOk(configured);
        assertTrue(configured.out().contains("shared group workers on topic jobs"), configured.out());
        assertTrue(configured.out().contains("dead letters to jobs.dlq"), configured.out());
        Result noDlq = sluice("group", "configure", "jobs", "other", "--max-deliveries", "2");
        assertEquals(1, noDlq.exit());
        assertTrue(noDlq.err().contains("dead_letter_topic"), noDlq.err());

        sluiceWithInput("one\ntwo\n", "publish", "jobs", "--batch", "-", "--target", target);
        // Without --ack the first stream's leases are released when it ends: one delivery each, the limit.
        assertOk(sluice("subscribe", "jobs", "--group", "workers", "--shared", "--count", "2"));
        // The moves to the dead-letter topic follow the end of that stream (its leases are released).
        Await.until("both messages reach the dead-letter topic", () -> client.topics().stream()
                .anyMatch(t -> t.name().equals("jobs.dlq")) && client.stats("jobs.dlq").getFirst().totalMessages() == 2);
        Result dlq = sluice("subscribe", "jobs.dlq", "--browse", "--from", "earliest", "--count", "2");
        assertOk(dlq);
        assertTrue(dlq.lines().getFirst().startsWith("# dead letter from topic jobs sequence "), dlq.out());
        assertTrue(dlq.lines().getFirst().contains("group workers: max_deliveries after 1 deliveries"), dlq.out());
        assertEquals("one", dlq.lines().get(1));
    }

    @Test
    void subscribePrintsPayloadsAcksAndStopsAfterCount() {
        sluiceWithInput("a\nb\nc\nd\n", "publish", "orders", "--batch", "-", "--target", target);

        Result first = sluice("subscribe", "orders", "--group", "billing", "--from", "earliest", "--count", "2", "--ack");
        assertOk(first);
        assertEquals(List.of("a", "b"), first.lines());
        var g = group("orders", "billing");
        assertEquals(2, g.pending(), "the cursor is after b: c and d remain");

        // The broker was asked for only 2: c comes for the first time.
        Result second = sluice("subscribe", "orders", "--group", "billing", "--count", "1", "--json");
        assertOk(second);
        String json = second.lines().getFirst();
        assertTrue(json.matches("\\{\"id\":\"[0-9a-f-]{36}\",\"sequence\":\\d+,\"timestamp\":\\d+,"
                + "\"delivery_count\":1,\"attributes\":\\{},\"payload\":\"c\"}"), json);
        assertEquals(2, group("orders", "billing").pending(), "without --ack the cursor stays");

        Result again = sluice("subscribe", "orders", "--group", "billing", "--count", "1", "--json");
        assertTrue(again.out().contains("\"delivery_count\":2"), again.out());
    }

    @Test
    void subscribeJsonEscapesAttributesAndPayload() {
        assertOk(sluice("publish", "json", "line1\n\"quoted\" \\ tab\t", "-a", "k=v=w", "-a", "a=é"));
        Result r = sluice("subscribe", "json", "--from", "earliest", "--count", "1", "--json");
        assertOk(r);
        assertTrue(r.out().contains("\"attributes\":{\"a\":\"é\",\"k\":\"v=w\"},"
                + "\"payload\":\"line1\\n\\\"quoted\\\" \\\\ tab\\t\"}"), r.out());
    }

    @Test
    void subscribeFromASequenceAndBrowseLeaveTheCursorAlone() {
        Result published = sluiceWithInput("a\nb\nc\n", "publish", "t", "--batch", "-", "--target", target);
        long b = published.sequence(1);
        client.resetCursor("t", "g", published.sequence(0));

        Result browse = sluice("subscribe", "t", "--browse", "--from", Long.toString(b), "--count", "2");
        assertOk(browse);
        assertEquals(List.of("b", "c"), browse.lines());
        assertEquals(published.sequence(0), group("t", "g").cursor());

        Result offset = sluice("subscribe", "t", "--group", "fresh", "--from", Long.toString(b + 1), "--count", "1");
        assertEquals(List.of("c"), offset.lines());

        assertEquals(2, sluice("subscribe", "t", "--browse", "--ack").exit());
        assertEquals(2, sluice("subscribe", "t", "--from", "yesterday").exit());
    }

    @Test
    void subscribeTimesOutWithAnErrorOnlyWhenTheCountIsNotReached() {
        Result quiet = sluice("subscribe", "quiet", "--timeout", "200ms");
        assertEquals(0, quiet.exit(), quiet.err());
        assertEquals("sluice: topic quiet does not exist yet, or these credentials may not see it; if the broker "
                + "accepts the subscription, it creates the topic and this waits for its first message\n", quiet.err());
        Result empty = sluice("subscribe", "quiet", "--timeout", "200ms");
        assertEquals("sluice: topic quiet is empty; waiting for its first message\n", empty.err());
        Result none = sluice("subscribe", "quiet", "--timeout", "200ms", "--count", "1");
        assertEquals(1, none.exit(), none.err());
        assertEquals(List.of("sluice: topic quiet is empty; waiting for its first message",
                "sluice: received 0 of 1 messages; none came for 200 ms"), none.err().lines().toList());
    }

    @Test
    void subscribeSaysWhenANewGroupSkipsMessagesOrFromIsIgnored() {
        assertOk(sluice("publish", "held", "a"));
        assertOk(sluice("publish", "held", "b"));
        Result fresh = sluice("subscribe", "held", "--group", "late", "--timeout", "200ms");
        assertEquals(0, fresh.exit(), fresh.err());
        assertEquals("sluice: group late is new and starts after the latest message: the 2 messages already in held "
                + "are skipped (--from earliest reads them; once the group exists: sluice reset-cursor held late 0)\n",
                fresh.err());

        Result ignored = sluice("subscribe", "held", "--group", "late", "--from", "earliest", "--timeout", "200ms");
        assertEquals(0, ignored.exit(), ignored.err());
        assertTrue(ignored.err().startsWith("sluice: group late already has a cursor on held (sequence "), ignored.err());
        assertTrue(ignored.err().contains("--from is ignored and it resumes after its cursor; to read from the "
                + "beginning: sluice reset-cursor held late 0"), ignored.err());
        assertEquals(List.of(), ignored.lines(), "the group was stored at the end");

        assertOk(sluice("reset-cursor", "held", "late", "0"));
        assertEquals(List.of("a", "b"), sluice("subscribe", "held", "--group", "late", "--count", "2").lines());
    }

    @Test
    void topicsListsTheNamesInOrder() {
        assertOk(sluice("publish", "zeta", "z"));
        assertOk(sluice("publish", "alpha", "a"));
        Result r = sluice("topics");
        assertOk(r);
        assertEquals(List.of("alpha", "zeta"), r.lines());
    }

    @Test
    void statsShowsEachGroupsCursorAndLag() {
        Result published = sluiceWithInput("1\n2\n3\n", "publish", "orders", "--batch", "-", "--target", target);
        assertOk(sluice("publish", "empty-ish", "x"));
        assertOk(sluice("reset-cursor", "orders", "billing", Long.toString(published.sequence(0))));
        assertOk(sluice("reset-cursor", "orders", "audit", Long.toString(published.sequence(2))));

        Result r = sluice("stats");
        assertOk(r);
        String first = Long.toString(published.sequence(0));
        String last = Long.toString(published.sequence(2));
        assertEquals(List.of(
                List.of("TOPIC", "MESSAGES", "FIRST", "LAST", "GROUP", "CURSOR", "LAG"),
                List.of("empty-ish", "1", r.lines().get(1).split("\\s+")[2], r.lines().get(1).split("\\s+")[3],
                        "-", "-", "-"),
                List.of("orders", "3", first, last, "audit", last, "0"),
                List.of("orders", "3", first, last, "billing", first, "2")),
                r.lines().stream().map(l -> List.of(l.trim().split("\\s+"))).toList());

        Result one = sluice("stats", "orders");
        assertOk(one);
        assertEquals(3, one.lines().size());
        Result missing = sluice("stats", "orders", "nope");
        assertEquals(3, missing.lines().size(), "the found topic is still shown");
        assertFails(missing, "no topic named nope");
    }

    @Test
    void resetCursorRepositionsAGroup() {
        Result published = sluiceWithInput("a\nb\nc\n", "publish", "t", "--batch", "-", "--target", target);
        assertOk(sluice("subscribe", "t", "--group", "g", "--from", "earliest", "--count", "3", "--ack"));

        Result reset = sluice("reset-cursor", "t", "g", Long.toString(published.sequence(0)));
        assertOk(reset);
        assertEquals("cursor of group g on topic t set to " + published.sequence(0) + "; delivery resumes after it",
                reset.out().strip());
        assertEquals(List.of("b", "c"), sluice("subscribe", "t", "--group", "g", "--count", "2").lines());

        assertFails(sluice("reset-cursor", "missing", "g", "0"), "NOT_FOUND: topic missing does not exist");
        assertFails(sluice("reset-cursor", "t", "g", Long.toString(published.sequence(2) + 1)),
                "INVALID_ARGUMENT: sequence " + (published.sequence(2) + 1) + " is beyond the last sequence");
        assertEquals(2, sluice("reset-cursor", "t", "g", "soon").exit());
    }

    @Test
    void deleteGroupAndDeleteTopicSayWhatTheyDidAndFailWhenNothingIsThere() {
        assertOk(sluice("publish", "t", "x"));
        assertOk(sluice("reset-cursor", "t", "g", "0"));

        Result group = sluice("delete-group", "t", "g");
        assertOk(group);
        assertEquals("deleted group g of topic t", group.out().strip());
        assertFails(sluice("delete-group", "t", "g"), "group g of topic t does not exist");

        Result topic = sluice("delete-topic", "t");
        assertOk(topic);
        assertEquals("deleted topic t", topic.out().strip());
        assertFails(sluice("delete-topic", "t"), "topic t does not exist");
        assertEquals(List.of(), sluice("topics").lines());
    }

    @Test
    void anInvalidTopicFailsWithOneLineNamingTheRule() {
        for (String command : List.of("publish", "subscribe", "delete-topic", "stats")) {
            Result r = command.equals("publish") ? sluice(command, "bad topic", "x")
                    : command.equals("subscribe") ? sluice(command, "bad topic", "--count", "1")
                    : sluice(command, "bad topic");
            assertFails(r, "INVALID_ARGUMENT: topic name \"bad topic\" has the character ' ' at position 3; "
                    + "names are 1-255 characters of A-Z a-z 0-9 . _ -");
            assertEquals("", r.out(), command);
        }
        assertFails(sluice("subscribe", "ok", "--group", "bad/group", "--count", "1"),
                "INVALID_ARGUMENT: consumer group name \"bad/group\"");
    }

    @Test
    void anUnreachableTargetFailsWithOneLineNamingIt() throws IOException {
        int port;
        try (var socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String nowhere = "127.0.0.1:" + port;
        assertFails(sluiceWithInput("", "publish", "orders", "x", "--target", nowhere),
                "UNAVAILABLE: cannot reach the broker at " + nowhere + ": ");
        assertFails(sluiceWithInput("", "topics", "--target", nowhere),
                "UNAVAILABLE: cannot reach the broker at " + nowhere + ": ");
        // subscribe says at once that it keeps trying, then gives up
        Result subscribe = sluiceWithInput("", "subscribe", "orders", "--reconnect-for", "300ms", "--target", nowhere);
        assertEquals(1, subscribe.exit(), subscribe.err());
        List<String> lines = subscribe.err().lines().toList();
        assertEquals(2, lines.size(), subscribe.err());
        assertTrue(lines.get(0).startsWith("sluice: UNAVAILABLE: cannot reach the broker at " + nowhere + ": ")
                && lines.get(0).endsWith("; trying again for up to 300ms (--reconnect-for)"), lines.get(0));
        assertTrue(lines.get(1).startsWith("sluice: UNAVAILABLE: gave up reconnecting after 300 ms: cannot reach the "
                + "broker at " + nowhere), lines.get(1));
        for (String command : List.of("topics", "stats")) {
            Result bad = sluiceWithInput("", command, "--target", "nowhere");
            assertEquals(2, bad.exit(), "a usage error: " + bad.err());
            assertTrue(bad.err().startsWith("--target (env SLUICE_TARGET): target 'nowhere' is not HOST:PORT"),
                    bad.err());
        }
    }

    @Test
    void usageErrorsExitWithTwo() {
        Result none = sluiceWithInput("");
        assertEquals(2, none.exit(), "sluice without a command is a usage error");
        assertTrue(none.err().startsWith("Missing command: sluice COMMAND") && none.err().contains("subscribe"),
                none.err());
        assertEquals(2, sluice("publish").exit());
        // a token gRPC would drop from the headers (every call then anonymous) is refused, never shown
        Result token = sluice("topics", "--token", "sluice_secret\nx");
        assertEquals(2, token.exit(), token.err());
        assertTrue(token.err().startsWith("--token (env SLUICE_TOKEN): a bearer token is printable ASCII")
                && !token.err().contains("secret"), token.err());
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> io.sluice.client.ClientOptions.defaults().token("a\tb")).getMessage().contains("character 2"));
        assertEquals(2, sluice("subscribe", "t", "--credits", "0").exit());
        assertEquals(2, sluice("frobnicate").exit());
        Result help = sluice("subscribe", "--help");
        assertOk(help);
        assertTrue(help.out().contains("--target=HOST:PORT"), help.out());
    }

    @Test
    void serveRefusesANegativeShutdownGraceOrMemoryBudgetAsAUsageError() {
        Result grace = sluiceWithInput("", "serve", "--port", "0", "--metrics-port", "0", "--shutdown-grace", "-3s");
        assertEquals(2, grace.exit(), grace.err());
        assertTrue(grace.err().contains("--shutdown-grace': '-3s' is negative; a duration is 0 or more"), grace.err());
        Result budget = sluiceWithInput("", "serve", "--port", "0", "--metrics-port", "0", "--max-queued-bytes", "-1");
        assertEquals(2, budget.exit(), budget.err());
        assertTrue(budget.err().contains("--max-queued-bytes must be 0"), budget.err());
        Result message = sluiceWithInput("", "serve", "--port", "0", "--metrics-port", "0",
                "--max-message-bytes", "-1");
        assertEquals(2, message.exit(), message.err());
        assertTrue(message.err().contains("--max-message-bytes must be positive, not -1"), message.err());
        Result tooLong = sluiceWithInput("", "serve", "--port", "0", "--metrics-port", "0", "--heartbeat", "99999999d");
        assertEquals(2, tooLong.exit(), tooLong.err());
        assertTrue(tooLong.err().contains("--heartbeat': '99999999d' is too long; a duration is at most 106751d"),
                tooLong.err());
    }

    @Test
    void topicConfigureSetsLimitsAndPublishTakesADedupIdAndAnExpectedLastSequence() {
        Result configured = sluice("topic", "configure", "capped", "--max-messages", "2", "--discard", "new");
        assertOk(configured);
        assertEquals("created topic capped: max age none, max bytes none, max messages 2, discard new, "
                + "dedup window: the broker's --dedup-window", configured.lines().getFirst());
        assertEquals(0, client.stats("capped").getFirst().totalMessages(), "created empty");

        Result first = sluice("publish", "capped", "one", "--dedup-id", "k1", "--expect-last-seq", "0");
        assertOk(first);
        assertTrue(first.out().matches("id=[0-9a-f-]{36} sequence=\\d+\n"), first.out());
        Result again = sluice("publish", "capped", "one", "--dedup-id", "k1");
        assertOk(again);
        assertEquals(first.out().strip() + " duplicate=true", again.out().strip(), "the original, marked duplicate");
        assertFails(sluice("publish", "capped", "two", "--expect-last-seq", "0"),
                "FAILED_PRECONDITION: topic capped: expected last sequence 0, but it is ");
        assertOk(sluice("publish", "capped", "two"));
        assertFails(sluice("publish", "capped", "three"),
                "RESOURCE_EXHAUSTED: topic capped is full: max_messages=2 (discard policy NEW)");
        assertEquals(2, sluice("publish", "capped", "--batch", "-", "--dedup-id", "x").exit());
        assertEquals(2, sluice("topic", "configure", "capped", "--discard", "sideways").exit());
    }

    @Test
    void subscribeFromATimeStartsAtTheFirstMessageAtOrAfterIt() {
        var a = client.publish("timed", "a".getBytes(UTF_8));
        io.sluice.Await.until("the clock moves past the first message", () -> System.currentTimeMillis() > a.timestamp());
        var b = client.publish("timed", "b".getBytes(UTF_8));
        assertTrue(b.timestamp() > a.timestamp());
        String at = java.time.Instant.ofEpochMilli(b.timestamp()).toString();
        Result r = sluice("subscribe", "timed", "--group", "replay", "--from", at, "--count", "1");
        assertOk(r);
        assertEquals(List.of("b"), r.lines());
        Result all = sluice("subscribe", "timed", "--browse", "--from", "2000-01-01T00:00:00+01:00", "--count", "2");
        assertEquals(List.of("a", "b"), all.lines());
    }
}
