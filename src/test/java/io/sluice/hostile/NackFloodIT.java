package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.Figures;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.Nack;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.server.StreamClient;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Case 4, a Nack flood: millions of Nacks of one message id on one Subscribe stream, as fast as the
 * transport takes them. The broker stays healthy and bounded and holds the message for redelivery
 * at most once: it is redelivered once, not once per Nack. A Nack whose delay exceeds the maximum
 * (3,600,000 ms) ends the stream with INVALID_ARGUMENT naming the maximum.
 */
class NackFloodIT extends HostileCase {
    static final String TOPIC = "hostile.nack";
    static final long MAX_DELAY_MS = 3_600_000;

    @Test
    void millionsOfNacksOfOneMessageRedeliverItOnceAndADelayOverTheMaximumIsRefused() throws Exception {
        HostileBroker b = start("--heartbeat", "1s");
        b.startBackground();
        PublishResponse published = b.publish(b.channel, TOPIC, "nacked", 0);
        int nacks = Figures.scaled(20_000, 3_000_000);
        var redelivered = new AtomicLong();
        double perSecond = 0;
        try (var s = StreamClient.group(SluiceGrpc.newStub(b.channel), TOPIC, "flood", InitialPosition.EARLIEST)) {
            s.credit(1);
            MessageDelivery first = s.delivery();
            assertEquals(published.getSequence(), first.getSequence(), "the first delivery");
            var nack = SubscribeUpstream.newBuilder().setNack(Nack.newBuilder().setMessageId(first.getMessageId())
                    .setRedeliveryDelayMs(0)).build();
            long start = System.nanoTime();
            int sent = 0;
            while (sent < nacks && s.closedStatus() == null) {
                if (!s.awaitReady(Duration.ofSeconds(30))) {
                    b.failure("the broker stopped reading the stream after " + sent + " Nacks");
                    break;
                }
                s.send(nack);
                sent++;
            }
            perSecond = sent / ((System.nanoTime() - start) / 1e9);
            System.out.printf("NackFloodIT: %d Nacks sent in %.1f s (%.0f/s)%n", sent,
                    (System.nanoTime() - start) / 1e9, perSecond);
            if (s.closedStatus() != null) {
                b.failure("the stream ended during the Nacks: " + s.closedStatus());
            } else {
                // The credit comes after every Nack on the stream: whatever the Nacks queued is delivered now.
                s.credit(1000);
                int afterNacks = sent;
                b.expect("the Nacked message is redelivered once (delivery_count 2), then nothing more", () -> {
                    MessageDelivery again = s.delivery();
                    redelivered.incrementAndGet();
                    assertEquals(first.getMessageId(), again.getMessageId());
                    assertEquals(2, again.getDeliveryCount());
                    // Then only a heartbeat: count whatever else comes before it (at most the credit).
                    long deadline = System.nanoTime() + StreamClient.WAIT.toNanos();
                    while (System.nanoTime() < deadline) {
                        SubscribeDownstream m = s.next();
                        if (m.hasDelivery()) {
                            redelivered.incrementAndGet();
                        } else if (m.hasHeartbeat() && m.getHeartbeat().getLatestSeq() >= published.getSequence()) {
                            break;
                        }
                    }
                    assertEquals(1, redelivered.get(), "redeliveries after " + afterNacks + " Nacks and 1000 credits");
                });
                s.send(SubscribeUpstream.newBuilder().setNack(Nack.newBuilder().setMessageId(first.getMessageId())
                        .setRedeliveryDelayMs((int) MAX_DELAY_MS + 1)).build());
                b.expect("a Nack delay of 3,600,001 ms: INVALID_ARGUMENT naming the maximum 3,600,000", () -> {
                    Status end = s.awaitClose();
                    assertEquals(Status.Code.INVALID_ARGUMENT, end.getCode(), end.toString());
                    assertTrue(end.getDescription() != null
                            && end.getDescription().matches("(?s).*\\b3,?600,?000\\b.*"), "names the maximum: " + end);
                });
            }
        }
        b.finish("4 Nack flood (one message id)", nacks + 1L, String.format("%.0f Nacks/s sent; redelivered %d time(s)",
                perSecond, redelivered.get()));
    }
}
