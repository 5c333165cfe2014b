package io.sluice.examples;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.sluice.client.OutboundMessage;
import io.sluice.client.Published;
import io.sluice.client.SluiceClient;
import io.sluice.client.SluiceClientException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Publishes four messages to the topic {@code orders}: one at a time, as a batch, and without
 * blocking. Each answer means the message is on the broker's disk.
 *
 * <p>Run: {@code PublishExample [HOST:PORT]} (default 127.0.0.1:50051).
 */
public final class PublishExample {
    private PublishExample() {
    }

    public static void main(String[] args) {
        try {
            run(args.length > 0 ? args[0] : SluiceClient.DEFAULT_TARGET);
        } catch (SluiceClientException e) {
            System.err.println("publish failed: " + e.getMessage());   // e.status() has the gRPC status
            System.exit(1);
        }
    }

    static void run(String target) {
        try (SluiceClient client = SluiceClient.connect(target)) {
            Published one = client.publish("orders", "order 1".getBytes(UTF_8), Map.of("customer", "42"));
            System.out.println("published " + one.id() + " at sequence " + one.sequence());

            List<Published> batch = client.publishBatch("orders",
                    List.of(OutboundMessage.of("order 2"), OutboundMessage.of("order 3")));
            batch.forEach(p -> System.out.println("published " + p.id() + " at sequence " + p.sequence()));

            CompletableFuture<Published> later = client.publishAsync("orders", "order 4".getBytes(UTF_8), Map.of());
            Published four = later.join();
            System.out.println("published " + four.id() + " at sequence " + four.sequence());
        }
    }
}
