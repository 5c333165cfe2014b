package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.sluice.Await;
import io.sluice.Cursors;
import io.sluice.Figures;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.CreditGrant;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.SubscriptionInit;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Load shapes against a real broker in this JVM: 2,000 concurrent streams opened and cancelled,
 * clients that never read, a takeover ping-pong between two consumers. Afterwards platform threads,
 * file descriptors, heap and the active-stream count (the broker's own and its
 * {@code sluice_streams_active} metric) are back at their baseline, with room for pools that
 * legitimately keep a thread or a connection. Figures are printed.
 */
@ExtendWith(Figures.class)
class LoadShapesTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private TestBroker broker;
    private SluiceGrpc.SluiceBlockingStub client;   // one channel: every broker.blocking() opens another
    private int metricsPort;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws IOException {
        try (var socket = new ServerSocket(0)) {
            metricsPort = socket.getLocalPort();
        }
        broker = TestBroker.start(dir, c -> c.withPorts(0, metricsPort));
        client = SluiceGrpc.newBlockingStub(broker.channel());
    }

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    /** What the process holds. Heap and Netty's direct memory after a full GC. */
    private record Resources(int threads, long fds, long heap, long direct, int streams, long streamsMetric) {
        @Override
        public String toString() {
            return threads + " platform threads, " + fds + " fds, heap " + heap / MIB + " MiB, Netty direct "
                    + direct / MIB + " MiB, " + streams + " streams (metric " + streamsMetric + ")";
        }
    }

    private Resources measure() throws Exception {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        long fds;
        try (var list = Files.list(Path.of("/proc/self/fd"))) {
            fds = list.count();
        }
        return new Resources(ManagementFactory.getThreadMXBean().getThreadCount(), fds,
                ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(),
                io.grpc.netty.shaded.io.netty.util.internal.PlatformDependent.usedDirectMemory(),
                broker.server().delivery().activeStreams(), (long) metric("sluice_streams_active", ""));
    }

    /** Back at the baseline, allowing pools a few threads and connections and the heap some noise. */
    private static void assertBaseline(Resources before, Resources after, String what) {
        assertEquals(0, after.streams(), what + ": streams left");
        assertEquals(0, after.streamsMetric(), what + ": sluice_streams_active");
        assertTrue(after.threads() <= before.threads() + 8, what + ": platform threads " + before + " -> " + after);
        assertTrue(after.fds() <= before.fds() + 16, what + ": file descriptors " + before + " -> " + after);
        assertTrue(after.heap() <= before.heap() + 64 * MIB, what + ": heap " + before + " -> " + after);
    }

    // ---- 2,000 concurrent streams ----

    @Test
    void twoThousandConcurrentStreamsOpenedAndCancelledLeaveNothingBehind() throws Exception {
        var sent = client.publish(PublishRequest.newBuilder().setTopic("churn")
                .setPayload(ByteString.copyFromUtf8("x")).build());
        var channels = new ArrayList<ManagedChannel>();
        for (int i = 0; i < 8; i++) {
            channels.add(broker.channel());
        }
        openAndCancel(channels, 100, sent.getSequence());   // warms the pools, the carriers and the event loops
        Resources before = measure();
        int rounds = Figures.scaled(1, 5);
        int streams = 2000;
        for (int round = 0; round < rounds; round++) {
            openAndCancel(channels, streams, sent.getSequence());
        }
        awaitStreams(0);
        Resources after = measure();
        System.out.printf("LoadShapesTest %d x %d concurrent streams opened, each delivering, then cancelled: "
                + "before %s; after %s%n", rounds, streams, before, after);
        assertBaseline(before, after, "after " + rounds * streams + " streams");
        Figures.row("load: 2,000 streams opened/cancelled").cycles(rounds).inputs((long) rounds * streams);
    }

    private void openAndCancel(List<ManagedChannel> channels, int count, long sequence) throws Exception {
        var open = new ArrayList<StreamClient>(count);
        for (int i = 0; i < count; i++) {
            var stub = SluiceGrpc.newStub(channels.get(i % channels.size()));
            var s = i % 2 == 0 ? StreamClient.group(stub, "churn", "g" + i % 500, InitialPosition.EARLIEST)
                    : StreamClient.browse(stub, "churn", InitialPosition.EARLIEST, 0);
            s.credit(10);
            open.add(s);
        }
        for (int i = 0; i < count; i++) {
            // Every one is live: it delivers. Groups shared by two streams take over; the older ends.
            var m = open.get(i).nextSkippingHeartbeats();   // 2,000 streams starting at once may idle a moment
            assertTrue(m.hasDelivery() || m.hasError(), "stream " + i + ": " + m);
            if (m.hasDelivery()) {
                assertEquals(sequence, m.getDelivery().getSequence());
            } else {
                assertEquals("TAKEN_OVER", m.getError().getCode());
            }
        }
        assertTrue(broker.server().delivery().activeStreams() >= count / 2, "streams open at once: "
                + broker.server().delivery().activeStreams());
        open.forEach(StreamClient::cancel);
        awaitStreams(0);
    }

    // ---- clients that never read ----

    @Test
    void clientsThatNeverReadHoldTheirStreamsNotTheBrokersMemory() throws Exception {
        int size = 4 * 1024;
        int messages = Figures.scaled(8192, 32_768);   // 32 MiB (128 MiB under soak) of backlog
        int readers = 8;
        for (int sent = 0; sent < messages; sent += 1000) {
            var batch = BatchPublishRequest.newBuilder().setTopic("backlog");
            for (int i = sent; i < Math.min(messages, sent + 1000); i++) {
                batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFrom(new byte[size])));
            }
            client.batchPublish(batch.build());
        }
        Resources before = measure();
        var stub = SluiceGrpc.newStub(broker.channel());
        var stuck = new ArrayList<NotReading>();
        for (int i = 0; i < readers; i++) {
            stuck.add(new NotReading(stub, "backlog", "stuck-" + i));
        }
        // Wait until the broker has sent all it will: each group's delivered count stops moving.
        long[] delivered = awaitDeliveriesSettle(readers);
        Resources during = measure();
        long total = 0;
        for (long d : delivered) {
            assertTrue(d < messages / 2, "a stream that is never read got " + d + " of " + messages
                    + " messages pushed at it");
            total += d;
        }
        assertTrue(during.heap() <= before.heap() + 64 * MIB, "heap while " + readers + " clients hold "
                + messages + " x " + size + " B unread: " + before + " -> " + during);
        assertTrue(during.direct() <= before.direct() + 128 * MIB, "direct memory: " + before + " -> " + during);
        for (NotReading s : stuck) {
            s.cancel();
        }
        awaitStreams(0);
        Resources after = measure();
        System.out.printf("LoadShapesTest %d clients never reading a %d MiB backlog with uint32-max credit: the "
                        + "broker pushed %d messages in all (%s per stream), then waited; before %s; while stuck %s; "
                        + "after %s%n", readers, (long) messages * size / MIB, total,
                java.util.Arrays.toString(delivered), before, during, after);
        assertBaseline(before, after, "after the clients that never read");
        Figures.row("load: clients that never read").cycles(1).inputs(readers);
    }

    /** A Subscribe stream with manual flow control that never asks for a message. */
    private static final class NotReading {
        private final ClientCallStreamObserver<SubscribeUpstream> up;

        NotReading(SluiceGrpc.SluiceStub stub, String topic, String group) {
            var holder = new ArrayList<ClientCallStreamObserver<SubscribeUpstream>>();
            stub.subscribe(new ClientResponseObserver<SubscribeUpstream, SubscribeDownstream>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<SubscribeUpstream> requests) {
                    requests.disableAutoRequestWithInitial(0);
                    holder.add(requests);
                }

                @Override
                public void onNext(SubscribeDownstream value) {
                    throw new AssertionError("asked for nothing, got " + value.getResponseCase());
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            });
            up = holder.getFirst();
            up.onNext(SubscribeUpstream.newBuilder().setInit(SubscriptionInit.newBuilder().setTopic(topic)
                    .setConsumerGroup(group).setInitialPosition(InitialPosition.EARLIEST)).build());
            up.onNext(SubscribeUpstream.newBuilder().setCredit(CreditGrant.newBuilder().setCredits(-1)).build());
        }

        void cancel() {
            up.cancel("the test is done", null);
        }
    }

    private long[] awaitDeliveriesSettle(int readers) {
        long[][] samples = new long[2][];   // the previous and the latest sample
        // Sampled half a second apart until it stops moving; no timing is asserted.
        Await.until("deliveries settle", Duration.ofMillis(500), () -> {
            long[] now = new long[readers];
            for (int i = 0; i < readers; i++) {
                now[i] = (long) metricUnchecked("sluice_delivered_total", "group=\"stuck-" + i + "\"");
            }
            samples[0] = samples[1];
            samples[1] = now;
            return java.util.Arrays.stream(now).allMatch(d -> d > 0) && java.util.Arrays.equals(now, samples[0]);
        }, () -> java.util.Arrays.toString(samples[1]));
        return samples[1];
    }

    private double metricUnchecked(String name, String labels) {
        try {
            return metric(name, labels);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    // ---- takeover ping-pong ----

    @Test
    void aTakeoverPingPongBetweenTwoConsumersSkipsNothingAndEndsWithOneStream() throws Exception {
        int rounds = Figures.scaled(100, 2000);
        int perRound = 5;
        var batch = BatchPublishRequest.newBuilder().setTopic("pingpong");
        for (int i = 0; i < rounds * perRound + 2 * perRound; i++) {
            batch.addMessages(BatchMessage.newBuilder().setPayload(ByteString.copyFromUtf8("m" + i)));
        }
        long first = client.batchPublish(batch.build()).getResults(0).getSequence();
        ManagedChannel a = broker.channel();
        ManagedChannel b = broker.channel();
        Resources before = measure();
        var seen = new BitSet();
        long acked = first - 1;
        int redelivered = 0;
        StreamClient previous = null;
        for (int round = 0; round < rounds; round++) {
            var s = StreamClient.group(SluiceGrpc.newStub(round % 2 == 0 ? a : b), "pingpong", "pp",
                    InitialPosition.EARLIEST);
            s.credit(perRound);
            MessageDelivery d = s.delivery();
            boolean strict = round % 2 == 0;   // the previous ack was persisted before this stream opened
            if (strict) {
                assertEquals(acked + 1, d.getSequence(), "round " + round + " resumes right after the ack");
            } else {
                assertTrue(d.getSequence() <= acked + 1, "round " + round + " skips nothing: starts at "
                        + d.getSequence() + " after an ack of " + acked);
            }
            if (d.getSequence() <= acked) {
                redelivered++;
            }
            seen.set((int) (d.getSequence() - first));
            for (int i = 1; i < perRound; i++) {
                MessageDelivery next = s.delivery();
                assertEquals(d.getSequence() + 1, next.getSequence(), "in order, no gap");
                d = next;
                seen.set((int) (d.getSequence() - first));
            }
            if (previous != null) {
                StreamClient.Ended end = previous.untilStreamError();
                assertEquals("TAKEN_OVER", end.error().getCode());
                previous.expectClosedWith(Status.Code.ABORTED);
            }
            s.ack(d.getMessageId());
            acked = Math.max(acked, d.getSequence());
            if (round % 2 == 1) {
                awaitCursor("pingpong", "pp", acked);   // so that the next round can be strict
            }
            previous = s;
        }
        awaitStreams(1);
        assertEquals(seen.nextClearBit(0), acked - first + 1, "every message up to the last ack was delivered");
        previous.cancel();
        awaitStreams(0);
        Resources after = measure();
        System.out.printf("LoadShapesTest takeover ping-pong: %d rounds between two consumers, acked through %d, "
                        + "%d rounds began with a redelivery, none skipped a message; before %s; after %s%n",
                rounds, acked, redelivered, before, after);
        assertBaseline(before, after, "after the ping-pong");
        Figures.row("load: takeover ping-pong").cycles(rounds).acknowledged(acked - first + 1);
    }

    // ---- helpers ----

    private void awaitStreams(int expected) {
        broker.awaitStreams(expected);
    }

    private void awaitCursor(String topic, String group, long sequence) {
        Cursors.await(client, topic, group, sequence);
    }

    /** The sum of the samples of {@code name} on the metrics endpoint whose labels contain {@code labels}. */
    private double metric(String name, String labels) throws IOException, InterruptedException {
        String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})?\\s+(\\S+)").matcher(body);
        double sum = 0;
        while (m.find()) {
            if (m.group(1) == null ? labels.isEmpty() : m.group(1).contains(labels)) {
                sum += Double.parseDouble(m.group(2));
            }
        }
        return sum;
    }
}
