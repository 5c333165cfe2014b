package io.sluice.client;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * At a subscription's close: asks the broker, with growing pauses (2 ms doubling to 100 ms), until
 * the group's committed cursor covers the last ack sent, so a consumer that closes after acking
 * knows its acks are stored. Gives up with a warning after {@code wait}.
 */
final class AckConfirmation {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());

    private AckConfirmation() {
    }

    static void await(Subscription.CursorProbe probe, String topic, String group, long acked, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        long pauseMillis = 2;
        try {
            while (true) {
                OptionalLong cursor = probe.cursor(topic, group);
                if (cursor.isPresent() && cursor.getAsLong() >= acked) {
                    return;
                }
                if (System.nanoTime() - deadline > 0) {
                    LOG.log(Level.WARNING, "the cursor of group " + group + " on " + topic + " is "
                            + (cursor.isPresent() ? cursor.getAsLong() : "unknown") + ", below the last ack sent ("
                            + acked + "), after " + wait.toSeconds() + " s: the ack did not reach the broker, or "
                            + "the cursor was reset meanwhile");
                    return;
                }
                TimeUnit.MILLISECONDS.sleep(pauseMillis);
                pauseMillis = Math.min(pauseMillis * 2, 100);
            }
        } catch (SluiceClientException e) {
            LOG.log(Level.DEBUG, () -> "could not confirm the last ack: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
