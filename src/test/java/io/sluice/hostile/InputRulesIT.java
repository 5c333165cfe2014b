package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Figures;
import io.sluice.proto.InitialPosition;
import io.sluice.proto.MessageDelivery;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.StreamClient;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Case 8, input rules: a Subscribe starting at an OFFSET past the end (up to 2^64-1) is refused
 * with INVALID_ARGUMENT, like ResetCursor, and does not silence its group; a Subscribe stream
 * half-closed before init ends with INVALID_ARGUMENT; a topic name with an emoji is refused with
 * INVALID_ARGUMENT naming the code point (U+1F600) and its position.
 */
class InputRulesIT extends HostileCase {
    static final String TOPIC = "hostile.rules";
    static final String EMOJI_TOPIC = "a\uD83D\uDE00b";   // "a😀b": U+1F600 at position 1

    @Test
    void offsetsPastTheEndEmptyStreamsAndEmojiNamesAreRefusedAndSilenceNothing() throws Exception {
        HostileBroker b = start();
        b.startBackground();
        PublishResponse first = b.publish(b.channel, TOPIC, "rules-0", 0);
        b.publish(b.channel, TOPIC, "rules-1", 0);
        var async = SluiceGrpc.newStub(b.channel);
        var blocking = SluiceGrpc.newBlockingStub(b.channel);
        int rounds = Figures.scaled(1, 200);
        long tried = 0;
        for (int round = 0; round < rounds; round++) {
            String group = "g" + round;
            long offset = round == 0 ? -1L : Long.MIN_VALUE >>> (round % 60) | 1_000_000L;   // 2^64-1, then others
            String where = Long.toUnsignedString(offset);
            tried += 4;
            b.expect("ResetCursor to " + where + ": INVALID_ARGUMENT", () -> {
                var e = assertThrows(StatusRuntimeException.class, () -> blocking.withDeadlineAfter(10,
                        TimeUnit.SECONDS).resetCursor(ResetCursorRequest.newBuilder().setTopic(TOPIC)
                        .setConsumerGroup(group).setSequence(offset).build()));
                assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
            });
            b.expect("Subscribe at OFFSET " + where + ": INVALID_ARGUMENT", () -> {
                try (var s = StreamClient.groupAt(async, TOPIC, group, offset)) {
                    s.credit(10);
                    Status end = s.awaitClose();
                    assertEquals(Status.Code.INVALID_ARGUMENT, end.getCode(), end.toString());
                }
            });
            b.expect("the group is not silenced: from EARLIEST it gets the first message", () -> {
                try (var s = StreamClient.group(async, TOPIC, group, InitialPosition.EARLIEST)) {
                    s.credit(1);
                    MessageDelivery d = s.delivery();
                    assertEquals(first.getSequence(), d.getSequence(), "the first message of " + TOPIC);
                }
            });
            b.expect("a Subscribe half-closed before init: INVALID_ARGUMENT", () -> {
                var s = StreamClient.open(async);
                s.halfClose();
                Status end = s.awaitClose();
                assertEquals(Status.Code.INVALID_ARGUMENT, end.getCode(), end.toString());
            });
            if (b.failedSoFar()) {
                rounds = round + 1;   // repeating a refusal that already failed adds only waiting
                break;
            }
        }
        for (int round = 0; round < rounds; round++) {
            tried += 2;
            b.expect("Publish to \"a\\uD83D\\uDE00b\": INVALID_ARGUMENT naming U+1F600 at position 1", () -> {
                var e = assertThrows(StatusRuntimeException.class, () -> blocking.withDeadlineAfter(10,
                        TimeUnit.SECONDS).publish(PublishRequest.newBuilder().setTopic(EMOJI_TOPIC).build()));
                namesTheEmoji(e.getStatus());
            });
            b.expect("Subscribe to \"a\\uD83D\\uDE00b\": INVALID_ARGUMENT naming U+1F600 at position 1", () -> {
                try (var s = StreamClient.group(async, EMOJI_TOPIC, "g", InitialPosition.EARLIEST)) {
                    namesTheEmoji(s.awaitClose());
                }
            });
            if (b.failedSoFar()) {
                break;
            }
        }
        b.finish("8 input rules (offset, no init, emoji)", tried, rounds + " round(s) of 6 bad requests");
    }

    private static void namesTheEmoji(Status s) {
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode(), s.toString());
        String d = String.valueOf(s.getDescription());
        assertTrue(d.contains("U+1F600") && d.matches("(?s).*position 1\\b.*"), "names U+1F600 at position 1: " + s);
    }
}
