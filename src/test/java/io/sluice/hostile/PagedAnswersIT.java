package io.sluice.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.sluice.Figures;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.GetTopicStatsResponse;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.ListTopicsResponse;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.Topic;
import io.sluice.proto.TopicStats;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Case 6, answers of bounded size: 20,000 topics with 200-character names (4.3 MB of names).
 * ListTopics and GetTopicStats from a default client (4 MiB inbound) never fail; the listing comes
 * in pages, and following next_page_token until it is empty yields every topic exactly once, in
 * name order, with the server's default page and with an explicit page_size (never more per page).
 */
class PagedAnswersIT extends HostileCase {
    static final int NAME_LENGTH = 200;
    static final int PAGE_SIZE = 700;

    private final AtomicLong calls = new AtomicLong();
    private int largestAnswer;
    private int pages;

    @Test
    void listingsOfTwentyThousandLongTopicNamesComeInPagesEachTopicOnceInNameOrder() throws Exception {
        HostileBroker b = start();
        int count = Figures.scaled(1_200, 20_000);   // 20,000 x 200 characters: over 4 MiB in one answer
        var names = new ArrayList<String>();
        for (int i = 0; i < count; i++) {
            String head = String.format("t%06d-", i);
            names.add(head + "x".repeat(NAME_LENGTH - head.length()));
        }
        Collections.shuffle(names, new Random(count));   // created out of name order
        var futures = SluiceGrpc.newFutureStub(b.channel);
        var inFlight = new ArrayList<ListenableFuture<?>>();
        long creating = System.nanoTime();
        for (String name : names) {
            inFlight.add(futures.withDeadlineAfter(60, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
                    .setTopic(name).setPayload(ByteString.copyFromUtf8("x")).build()));
            if (inFlight.size() == 256) {
                awaitAll(inFlight);
            }
        }
        awaitAll(inFlight);
        long createdMs = (System.nanoTime() - creating) / 1_000_000;
        System.out.printf("PagedAnswersIT: %d topics created in %d ms%n", count, createdMs);
        b.startBackground();
        b.probe();   // the harness's own topics exist before the listings

        var stub = SluiceGrpc.newBlockingStub(b.defaultChannel());   // a default client: 4 MiB inbound
        for (int pageSize : new int[] {0, PAGE_SIZE}) {
            String which = pageSize == 0 ? "default pages" : "page_size " + pageSize;
            b.expect("ListTopics, " + which + ": every topic once, in name order", () -> {
                var listed = new ArrayList<String>();
                String token = "";
                do {
                    var request = ListTopicsRequest.newBuilder().setPageSize(pageSize).setPageToken(token).build();
                    ListTopicsResponse page = call(() -> stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                            .listTopics(request));
                    answer(page.getSerializedSize(), page.getTopicsCount(), pageSize);
                    page.getTopicsList().stream().map(Topic::getName).forEach(listed::add);
                    token = page.getNextPageToken();
                } while (!token.isEmpty());
                inNameOrderOnce(listed, names);
            });
            b.expect("GetTopicStats, " + which + ": every topic once, in name order", () -> {
                var listed = new ArrayList<String>();
                String token = "";
                do {
                    var request = GetTopicStatsRequest.newBuilder().setPageSize(pageSize).setPageToken(token).build();
                    GetTopicStatsResponse page = call(() -> stub.withDeadlineAfter(60, TimeUnit.SECONDS)
                            .getTopicStats(request));
                    answer(page.getSerializedSize(), page.getStatsCount(), pageSize);
                    page.getStatsList().stream().map(TopicStats::getTopic).forEach(listed::add);
                    token = page.getNextPageToken();
                } while (!token.isEmpty());
                inNameOrderOnce(listed, names);
            });
        }
        System.out.printf("PagedAnswersIT: %d listing calls, %d pages, largest answer %d B%n", calls.get(), pages,
                largestAnswer);
        b.finish("6 listings of " + count + " long names", count + calls.get(), pages + " pages, largest answer "
                + largestAnswer + " B; " + count + " topics created in " + createdMs + " ms");
    }

    private interface Call<T> {
        T run();
    }

    /** One listing call; a failure names the call (a default client refuses answers over 4 MiB). */
    private <T> T call(Call<T> call) {
        calls.incrementAndGet();
        try {
            return call.run();
        } catch (StatusRuntimeException e) {
            throw new AssertionError("call " + calls.get() + " failed: " + e.getStatus(), e);
        }
    }

    private void answer(int bytes, int entries, int pageSize) {
        pages++;
        largestAnswer = Math.max(largestAnswer, bytes);
        if (pageSize > 0) {
            assertTrue(entries <= pageSize, entries + " topics in a page of page_size " + pageSize);
        }
    }

    /** The listing holds every created topic once, and all its names are in strictly increasing order. */
    private static void inNameOrderOnce(List<String> listed, List<String> created) {
        for (int i = 1; i < listed.size(); i++) {
            assertTrue(listed.get(i - 1).compareTo(listed.get(i)) < 0, "name order (and each once) at " + i + ": "
                    + listed.get(i - 1).substring(0, 8) + " then " + listed.get(i).substring(0, 8));
        }
        var missing = new ArrayList<>(created);
        missing.removeAll(new java.util.HashSet<>(listed));
        assertEquals(List.of(), missing.subList(0, Math.min(3, missing.size())), missing.size() + " topics missing");
    }

    private static void awaitAll(List<ListenableFuture<?>> futures) throws InterruptedException {
        for (var f : futures) {
            try {
                f.get(60, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                throw new AssertionError("creating a topic by Publish failed", e);
            }
        }
        futures.clear();
    }
}
