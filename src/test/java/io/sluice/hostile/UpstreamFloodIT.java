package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.Figures;
import io.sluice.domain.MessageIds;
import io.sluice.proto.BatchAck;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.server.StreamClient;
import java.time.Duration;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

/**
 * Case 10, a Subscribe stream flooded with large upstream messages that are slow to handle: BatchAcks
 * of 20,000 well-formed ids of messages that do not exist (each id is looked up in the store), sent
 * as fast as the transport takes them. The broker queues at most 64 messages or 1 MiB of a stream's
 * upstream for its inbound worker and reads no more meanwhile (docs/limits.md), so the client is
 * paced by HTTP/2 flow control to the worker's speed instead of filling the broker's heap; the
 * stream then goes on, and the broker stays healthy and bounded.
 */
class UpstreamFloodIT extends HostileCase {
    static final String TOPIC = "hostile.upstream";
    static final int IDS_PER_ACK = 20_000;

    @Test
    void largeSlowUpstreamMessagesArePacedToTheStreamsWorker() throws Exception {
        HostileBroker b = start();
        b.startBackground();
        PublishResponse published = b.publish(b.channel, TOPIC, "after the flood", 0);
        var ids = new ArrayList<String>(IDS_PER_ACK);
        for (int i = 0; i < IDS_PER_ACK; i++) {   // sequences past the topic's end: each is a lookup that finds nothing
            ids.add(MessageIds.create(System.currentTimeMillis(), published.getSequence() + 1_000_000 + i).toString());
        }
        var ack = SubscribeUpstream.newBuilder().setBatchAck(BatchAck.newBuilder().addAllMessageIds(ids)).build();
        Duration flood = Duration.ofSeconds(Figures.scaled(3, 60));
        long sent = 0;
        double seconds;
        try (var s = StreamClient.group(SluiceGrpc.newStub(b.channel), TOPIC, "flood", InitialPosition.EARLIEST)) {
            long start = System.nanoTime();
            long end = start + flood.toNanos();
            while (s.closedStatus() == null) {
                long left = end - System.nanoTime();
                if (left <= 0 || !s.awaitReady(Duration.ofNanos(left))) {
                    break;   // the flood's time is up (waiting for the transport to take more is the pacing)
                }
                s.send(ack);
                sent++;
            }
            seconds = (System.nanoTime() - start) / 1e9;
            if (s.closedStatus() != null) {
                b.failure("the stream ended during the flood: " + s.closedStatus());
            } else {
                // The credit comes after every BatchAck: its delivery shows the broker handled what it had queued.
                s.credit(1);
                b.expect("the stream goes on after the flood: the topic's message is delivered", () -> {
                    MessageDelivery d = s.delivery();
                    assertEquals(published.getSequence(), d.getSequence());
                });
            }
        }
        double megabytes = sent * (double) ack.getSerializedSize() / (1 << 20);
        System.out.printf("UpstreamFloodIT: %d BatchAcks of %d unknown ids (%.1f MiB) taken in %.1f s (%.1f MiB/s)%n",
                sent, IDS_PER_ACK, megabytes, seconds, megabytes / seconds);
        b.finish("10 BatchAcks of 20,000 unknown ids, flooded", sent,
                String.format("%.1f MiB taken in %.0f s (paced to the worker)", megabytes, seconds));
    }
}
