package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.Contents;
import io.sluice.Figures;
import io.sluice.Ledger;
import io.sluice.PipelinedPublisher;
import io.sluice.proto.InitialPosition;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A graceful stop of a real broker ends every kind of stream, with UNAVAILABLE, and loses nothing answered. */
@ExtendWith(Figures.class)
class ShutdownTest {
    @TempDir
    Path dir;

    private TestBroker broker;

    @AfterEach
    void stop() throws InterruptedException {
        broker.close();
    }

    @Test
    void shutdownEndsOpenPublishStreamsWithUnavailableAfterAnsweringWhatTheyTook() throws Exception {
        broker = TestBroker.start(dir);
        var ledger = new Ledger();
        var subscriber = StreamClient.group(broker.async(), "piped", "g", InitialPosition.EARLIEST);
        subscriber.credit(Integer.MAX_VALUE);
        try (var publisher = new PipelinedPublisher(broker.channel(), "piped", "s", ledger);
             var idle = new PipelinedPublisher(broker.channel(), "idle", "i", ledger)) {
            publisher.awaitAnswered(500);
            idle.awaitAnswered(1);

            broker.server().close();

            for (PipelinedPublisher p : new PipelinedPublisher[] {publisher, idle}) {
                Status end = p.awaitEnd();
                assertEquals(Status.Code.UNAVAILABLE, end.getCode(), "a PublishStream held open: " + end);
                assertTrue(end.getDescription().contains("shutting down"), end.toString());
            }
            assertEquals("SHUTTING_DOWN", subscriber.untilStreamError().error().getCode());
            subscriber.expectClosedWith(Status.Code.UNAVAILABLE);
            broker.restart();
            Ledger.Verdict v = ledger.verify(Contents.served(broker.channel()));
            v.assertNothingLost(ledger);
            System.out.printf("ShutdownTest: PublishStreams held open got UNAVAILABLE after %d answers (%d refused); "
                    + "all %d answered messages stored%n", publisher.answered(), publisher.refused(), ledger.size());
        }
    }
}
