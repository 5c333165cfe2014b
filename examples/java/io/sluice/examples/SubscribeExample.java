package io.sluice.examples;

import io.sluice.client.Message;
import io.sluice.client.SluiceClient;
import io.sluice.client.Subscription;
import io.sluice.client.SubscriptionOptions;
import io.sluice.client.SubscriptionOptions.Position;
import io.sluice.client.TopicStats;
import java.time.Duration;
import java.util.Optional;

/**
 * Reads the topic {@code orders} as the consumer group {@code shipping}, acknowledging each message
 * once it is handled, until {@code COUNT} messages came or none came for 5 seconds. Run it twice:
 * the second run resumes after the last acknowledged message.
 *
 * <p>Run: {@code SubscribeExample [HOST:PORT [COUNT]]} (defaults 127.0.0.1:50051 and 10).
 */
public final class SubscribeExample {
    private SubscribeExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        run(args.length > 0 ? args[0] : SluiceClient.DEFAULT_TARGET, args.length > 1 ? Integer.parseInt(args[1]) : 10);
    }

    static void run(String target, int count) throws InterruptedException {
        var options = SubscriptionOptions.of("orders")
                .withGroup("shipping")
                .from(Position.EARLIEST)      // where a new group starts; an existing one resumes after its cursor
                .withCreditWindow(16);        // at most 16 messages on their way ahead of this loop

        try (SluiceClient client = SluiceClient.connect(target)) {
            try (Subscription orders = client.subscribe(options)) {
                for (int i = 0; i < count; i++) {
                    Optional<Message> next = orders.receive(Duration.ofSeconds(5));
                    if (next.isEmpty()) {
                        break;
                    }
                    Message m = next.get();
                    System.out.println("#" + m.sequence() + " " + m.payloadText() + " " + m.attributes()
                            + (m.isRedelivery() ? " (delivery " + m.deliveryCount() + ")" : ""));
                    orders.ack(m);            // cumulative: everything up to m is done
                }
            }                                 // close() waits until the broker shows the last ack committed
            for (TopicStats.GroupStats g : client.stats("orders").getFirst().groups()) {
                System.out.println("group " + g.group() + ": cursor " + g.cursor() + ", " + g.pending() + " pending");
            }
        }
    }
}
