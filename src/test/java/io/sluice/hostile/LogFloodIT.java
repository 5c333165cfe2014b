package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Figures;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import io.sluice.telemetry.LogBurst;
import java.util.ArrayList;
import java.util.Collections;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Case 7, logs a client cannot flood: one BatchAck of a million empty ids (and unknown ones), or
 * publishes over the transport's size limit, make the broker's stderr grow by a bounded number of
 * lines: repeated warnings, ours and gRPC's, are rate-limited and summarised with a count.
 */
class LogFloodIT extends HostileCase {
    static final String TOPIC = "hostile.logs";
    /** The most lines of stderr the flood may add (the warnings, rate-limited, and their summaries). */
    static final int MAX_LINES = 200;

    @Test
    void aMillionBadIdsInOneBatchAckAddABoundedNumberOfLogLines() throws Exception {
        HostileBroker b = start();
        b.startBackground();
        b.publish(b.channel, TOPIC, "logged", 0);
        int empty = Figures.scaled(50_000, 1_000_000);
        int unknown = empty / 10;
        int added;
        try (var s = StreamClient.group(SluiceGrpc.newStub(b.channel), TOPIC, "flood", InitialPosition.EARLIEST)) {
            s.credit(1);
            MessageDelivery d = s.delivery();
            int before = b.process.stderrLines();
            s.batchAck(Collections.nCopies(empty, ""));
            var ids = new ArrayList<String>(unknown);
            for (int i = 0; i < unknown; i++) {
                ids.add(UUID.randomUUID().toString());
            }
            s.batchAck(ids);
            // A Nack after the BatchAcks and one credit: its redelivery shows the broker has handled them.
            s.nack(d.getMessageId(), 0);
            s.credit(1);
            b.expect("the stream goes on after the bad acks", () -> {
                MessageDelivery again = s.delivery();
                assertEquals(d.getSequence(), again.getSequence());
            });
            b.expect("a Publish and a Subscribe after the flood", b::probe);   // its lines have been read meanwhile
            added = b.process.stderrLines() - before;
        }
        int lines = added;
        System.out.printf("LogFloodIT: %d empty and %d unknown ids acked: stderr grew by %d lines%n", empty, unknown,
                lines);
        b.expect("stderr grows by fewer than " + MAX_LINES + " lines", () -> assertTrue(lines < MAX_LINES,
                lines + " lines of stderr for one BatchAck of " + empty + " empty and " + unknown + " unknown ids"));
        b.finish("7 BatchAck of 1M bad ids (log flood)", empty + unknown, "stderr +" + lines + " lines");
    }

    @Test
    void publishesOverTheTransportLimitAddABoundedNumberOfLogLines() throws Exception {
        // gRPC logs each message over its size limit (a warning with the cause); 10 a minute are kept.
        HostileBroker b = start("--max-message-bytes", "1024", "--max-batch-bytes", "4096");
        b.startBackground();
        b.probe();
        int before = b.process.stderrLines();
        int tries = 40;
        var huge = PublishRequest.newBuilder().setTopic(TOPIC).setPayload(ByteString.copyFrom(new byte[3 << 20]))
                .build();
        var sluice = SluiceGrpc.newBlockingStub(b.channel);
        for (int i = 0; i < tries; i++) {
            var e = assertThrows(StatusRuntimeException.class, () -> sluice.publish(huge));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
        }
        b.expect("a Publish and a Subscribe after the flood", b::probe);
        int lines = b.process.stderrLines() - before;
        System.out.printf("LogFloodIT: %d publishes over the transport limit: stderr grew by %d lines%n", tries, lines);
        b.expect("stderr grows by at most " + LogBurst.BURST + " lines", () -> assertTrue(lines <= LogBurst.BURST,
                lines + " lines of stderr for " + tries + " publishes over the limit:\n" + b.process.stderrTail(20)));
        b.finish("7 Publish over the transport limit (log flood)", tries, "stderr +" + lines + " lines");
    }
}
