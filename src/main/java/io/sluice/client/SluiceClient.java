package io.sluice.client;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.SluiceGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A client of one Sluice broker, over one gRPC channel that it owns (plaintext, or TLS with an optional
 * bearer token: see {@link ClientOptions}).
 * <pre>{@code
 * try (var client = SluiceClient.connect("127.0.0.1:50051")) {
 *     Published p = client.publish("orders", "hello".getBytes(UTF_8), Map.of("kind", "greeting"));
 *     try (Subscription s = client.subscribe(SubscriptionOptions.of("orders").from(Position.EARLIEST))) {
 *         Message m = s.receive();
 *         s.ack(m);
 *     }
 * }
 * }</pre>
 *
 * <p>Thread-safe: any thread may call any method. The unary calls ({@code topics}, {@code stats},
 * {@code publishBatch}, ...) block the calling thread until the broker answers or the call deadline
 * passes. Single-message publishes ({@link #publish}, {@link #publishAsync}) ride one PublishStream
 * shared by every thread of the client, pipelined, unless {@link PublishOptions#unary()}; a publish is
 * answered only once the message is on disk. Failures are thrown as a {@link SluiceClientException}
 * keeping the gRPC status. A publish that failed with UNAVAILABLE or DEADLINE_EXCEEDED may or may not
 * have been stored; with {@link PublishOptions#retryFor()} the client sends such a publish again on a
 * new stream itself, so it may be stored twice (at-least-once). After UNAVAILABLE the next call tries
 * to connect at once (waiting up to 500 ms for the connection). Each client has one network thread of
 * its own ({@code sluice-client-io}) and one that completes {@code publishAsync}'s futures
 * ({@code sluice-client-callbacks}, one at a time), so do not block long inside callbacks chained to
 * them. Each {@link Subscription} has its own thread.
 * {@link #close()} closes the open subscriptions, lets outstanding publishes finish, then closes the
 * channel.
 */
public final class SluiceClient implements AutoCloseable {
    /** Where the broker listens by default. */
    public static final String DEFAULT_TARGET = "127.0.0.1:50051";
    /** The deadline of each unary call unless another is given. */
    public static final Duration DEFAULT_CALL_TIMEOUT = Duration.ofSeconds(30);

    private final String target;
    private final ManagedChannel channel;
    private final ClientChannel net;
    private final ExecutorService callbacks;   // completes publishAsync futures (see Completer)
    private volatile Thread callbackThread;    // its one thread, once started
    private final Calls calls;
    private final SluiceGrpc.SluiceStub async;
    private final Set<Subscription> subscriptions = ConcurrentHashMap.newKeySet();
    private final Publishes publishes;

    private SluiceClient(String target, ClientOptions options, PublishOptions publishOptions) {
        Target parsed = Target.parse(target);
        this.target = parsed.toString();
        this.net = new ClientChannel(parsed, options.credentials());
        this.channel = net.channel;
        this.calls = new Calls(channel, this.target, options.callTimeout());
        this.async = SluiceGrpc.newStub(channel);
        ThreadFactory callbackThreads = Thread.ofPlatform().daemon().name("sluice-client-callbacks").factory();
        this.callbacks = Executors.newSingleThreadExecutor(r -> callbackThread = callbackThreads.newThread(r));
        this.publishes = new Publishes(calls, async, net.io, callbacks, channel::resetConnectBackoff, this.target,
                publishOptions);
    }

    /**
     * A client of the broker at {@code target}, {@code HOST:PORT} (e.g. {@code 127.0.0.1:50051},
     * {@code [::1]:50051}). Connecting is lazy: an unreachable broker shows on the first call.
     *
     * @throws IllegalArgumentException when the target is not {@code HOST:PORT}
     */
    public static SluiceClient connect(String target) {
        return new SluiceClient(target, ClientOptions.defaults(), PublishOptions.defaults());
    }

    /** Like {@link #connect(String)}, over TLS and with a token as {@code options} say. */
    public static SluiceClient connect(String target, ClientOptions options) {
        return connect(target, options, PublishOptions.defaults());
    }

    /** Like {@link #connect(String, ClientOptions)}, publishing single messages as {@code publishOptions} say. */
    public static SluiceClient connect(String target, ClientOptions options, PublishOptions publishOptions) {
        return new SluiceClient(target, Objects.requireNonNull(options, "options"),
                Objects.requireNonNull(publishOptions, "publishOptions"));
    }

    /** Like {@link #connect(String)}, with {@code callTimeout} as the deadline of each call and each publish. */
    public static SluiceClient connect(String target, Duration callTimeout) {
        return connect(target, callTimeout, PublishOptions.defaults());
    }

    /** Like {@link #connect(String)}, publishing single messages as {@code publishOptions} say. */
    public static SluiceClient connect(String target, PublishOptions publishOptions) {
        return connect(target, DEFAULT_CALL_TIMEOUT, publishOptions);
    }

    /** Like {@link #connect(String, Duration)}, publishing single messages as {@code publishOptions} say. */
    public static SluiceClient connect(String target, Duration callTimeout, PublishOptions publishOptions) {
        Objects.requireNonNull(callTimeout, "callTimeout");
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("the call timeout must be positive, not " + callTimeout);
        }
        return connect(target, ClientOptions.defaults().callTimeout(callTimeout), publishOptions);
    }

    /** The broker's address, {@code HOST:PORT}. */
    public String target() {
        return target;
    }

    // ---- publishing ----

    /**
     * Stores one message; answers once it is committed to disk. Blocks until then, or until the call
     * timeout. Unless {@link PublishOptions#unary()}, the message goes on the client's shared
     * PublishStream with the publishes of every other thread; while the publish window is full the
     * caller waits for room.
     */
    public Published publish(String topic, byte[] payload, Map<String, String> attributes) {
        return publishes.publish(topic, payload, attributes);
    }

    /**
     * Stores one message with publish guarantees (a dedup id, an expected last sequence); answers once
     * it is committed, or the original message, marked duplicate, when the dedup id was stored before.
     * It goes the way {@link #publish(String, byte[], Map)} goes: on the shared PublishStream unless
     * {@link PublishOptions#unary()}. A publish with a dedup id that a broken stream left unanswered and
     * {@link PublishOptions#retryFor()} sent again is stored once (within the topic's dedup window): the
     * retry answers the original, duplicate.
     *
     * @throws SluiceClientException with status FAILED_PRECONDITION when the topic's last sequence is not
     *                               the expected one (only this message fails); {@link
     *                               SluiceClientException.ResourceExhausted} when a DISCARD_NEW topic is full
     */
    public PublishOutcome publish(String topic, byte[] payload, Map<String, String> attributes,
                                  PublishGuarantees guarantees) {
        return publishes.publish(topic, payload, attributes, guarantees);
    }

    /** Creates the topic with these settings, or replaces an existing topic's; true when it was created. */
    public boolean configureTopic(String topic, TopicSettings settings) {
        return setTopicSettings(topic, settings).created();
    }

    /**
     * Creates the topic with these settings, or replaces an existing topic's; answers the settings
     * the broker stored (a dedup window longer than the max age is stored as the max age) and whether
     * the topic was created.
     */
    public ConfiguredTopic setTopicSettings(String topic, TopicSettings settings) {
        var answer = call(() -> stub().configureTopic(io.sluice.proto.ConfigureTopicRequest.newBuilder()
                .setTopic(topic).setConfig(settings.toProto()).build()));
        return new ConfiguredTopic(TopicSettings.fromProto(answer.getConfig()), answer.getCreated());
    }

    /** Stores one message without attributes. */
    public Published publish(String topic, byte[] payload) {
        return publish(topic, payload, Map.of());
    }

    /**
     * Stores one message. The future completes with the answer once the message is committed, or
     * exceptionally with a {@link SluiceClientException}; it completes on the client's callback thread,
     * which completes the others after it, so do not block long inside callbacks chained to it. Unless
     * {@link PublishOptions#unary()}, this sends on the client's shared PublishStream, and blocks the
     * caller (up to the call timeout) while the publish window is full: at most
     * {@link PublishOptions#window()} publishes are outstanding per client. Called from a callback of
     * such a future, it never blocks (it may then exceed the window).
     */
    public CompletableFuture<Published> publishAsync(String topic, byte[] payload, Map<String, String> attributes) {
        return publishes.publishAsync(topic, payload, attributes);
    }

    /**
     * Like {@link #publishAsync(String, byte[], Map)}, with publish guarantees: the future completes with
     * the outcome of {@link #publish(String, byte[], Map, PublishGuarantees)} or fails the same way.
     */
    public CompletableFuture<PublishOutcome> publishAsync(String topic, byte[] payload, Map<String, String> attributes,
                                                          PublishGuarantees guarantees) {
        return publishes.publishAsync(topic, payload, attributes, guarantees);
    }

    /** Like {@link #publishAsync(String, byte[], Map)}, without attributes. */
    public CompletableFuture<Published> publishAsync(String topic, byte[] payload) {
        return publishAsync(topic, payload, Map.of());
    }

    /**
     * Stores all {@code messages} in one transaction, all or none, with contiguous sequences in
     * order; answers one {@link Published} per message (they share one timestamp).
     */
    public List<Published> publishBatch(String topic, List<OutboundMessage> messages) {
        return publishes.publishBatch(topic, messages);
    }

    // ---- admin ----

    /** All topics, ordered by name (read a page at a time, following the broker's page tokens). */
    public List<TopicInfo> topics() {
        var out = new ArrayList<TopicInfo>();
        String token = "";
        do {
            var request = ListTopicsRequest.newBuilder().setPageToken(token).build();
            var page = call(() -> stub().listTopics(request));
            page.getTopicsList().forEach(t -> out.add(new TopicInfo(t.getName(), t.getCreatedAt())));
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return out;
    }

    /**
     * Figures of the named topics, or of all topics when none is named; unknown names are left out.
     * Read a page at a time, following the broker's page tokens.
     */
    public List<TopicStats> stats(String... topics) {
        var out = new ArrayList<TopicStats>();
        String token = "";
        do {
            var request = GetTopicStatsRequest.newBuilder().addAllTopics(List.of(topics)).setPageToken(token).build();
            var page = call(() -> stub().getTopicStats(request));
            page.getStatsList().forEach(s -> out.add(stats(s)));
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return out;
    }

    private static TopicStats stats(io.sluice.proto.TopicStats s) {
        var groups = new ArrayList<TopicStats.GroupStats>();
        for (ConsumerGroupStats g : s.getConsumerGroupsList()) {
            groups.add(new TopicStats.GroupStats(g.getGroupName(), g.getCursorSequence(), g.getPendingCount(),
                    g.getLastAckTimestamp()));
        }
        return new TopicStats(s.getTopic(), s.getTotalMessages(), s.getFirstSequence(), s.getLastSequence(),
                s.getFirstMessageTimestamp(), s.getLastMessageTimestamp(), s.getCreatedAt(), groups);
    }

    /** Deletes the topic, its messages and groups, ending its subscriptions; false when it did not exist. */
    public boolean deleteTopic(String topic) {
        return call(() -> stub().deleteTopic(DeleteTopicRequest.newBuilder().setTopic(topic).build())).getDeleted();
    }

    /** Deletes a consumer group of a topic; false when it did not exist. */
    public boolean deleteGroup(String topic, String group) {
        return call(() -> stub().deleteConsumerGroup(DeleteConsumerGroupRequest.newBuilder()
                .setTopic(topic).setConsumerGroup(group).build())).getDeleted();
    }

    /**
     * Sets the group's cursor to {@code sequence} (creating the group): delivery resumes after it,
     * also on an open stream of the group.
     *
     * @throws SluiceClientException.NotFound        when the topic does not exist
     * @throws SluiceClientException.InvalidArgument when {@code sequence} is beyond the topic's last one
     */
    public void resetCursor(String topic, String group, long sequence) {
        call(() -> stub().resetCursor(ResetCursorRequest.newBuilder()
                .setTopic(topic).setConsumerGroup(group).setSequence(sequence).build()));
    }

    /**
     * Creates a consumer group with its mode ({@code shared}: competing consumers) and settings, or
     * replaces an existing group's settings; answers the settings in force. A group of the other mode
     * fails with {@link SluiceClientException} (FAILED_PRECONDITION); {@code maxDeliveries} without a
     * dead-letter topic with INVALID_ARGUMENT. A new group starts at the oldest message.
     */
    public GroupSettings configureGroup(String topic, String group, boolean shared, GroupSettings settings) {
        var response = call(() -> stub().configureConsumerGroup(io.sluice.proto.ConfigureConsumerGroupRequest
                .newBuilder().setTopic(topic).setConsumerGroup(group)
                .setMode(shared ? io.sluice.proto.SubscriptionMode.SHARED
                        : io.sluice.proto.SubscriptionMode.CONSUMER_GROUP)
                .setConfig(settings.toWire())
                .setInitialPosition(io.sluice.proto.InitialPosition.EARLIEST).build()));
        return GroupSettings.fromWire(response.getConfig());
    }

    // ---- subscribing ----

    /**
     * Opens a subscription to a SHARED group (competing consumers): any number of them, here or
     * elsewhere, share the group's messages, each message leased to one at a time. {@link
     * Subscription#ack} settles exactly its message; {@link Subscription#nack}, {@link
     * Subscription#inProgress} and {@link Subscription#term} act on one message. {@code options}' group
     * and position apply as for {@link #subscribe}; browsing is not allowed.
     */
    public Subscription subscribeShared(SubscriptionOptions options) {
        if (options.browse()) {
            throw new IllegalArgumentException("a shared subscription needs a group, not browsing");
        }
        requireOpen();
        Subscription s = Subscription.open(options, target, async, channel, net.io, subscriptions::remove, true);
        subscriptions.add(s);
        return s;
    }

    /**
     * Opens a subscription; it connects in the background, so a refused request (a bad name) shows
     * on the first {@link Subscription#receive()}. Close it, or close this client.
     */
    public Subscription subscribe(SubscriptionOptions options) {
        requireOpen();
        Subscription s = Subscription.open(options, target, async, channel, net.io, subscriptions::remove, false);
        subscriptions.add(s);
        return s;
    }

    /** Why {@code target} is not a broker address ({@code HOST:PORT} or {@code [IPv6]:PORT}), or null. */
    public static String targetProblem(String target) {
        try {
            Target.parse(target);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    // ---- plumbing ----

    /** A subscription of a closed client would retry a shut-down channel until it gives up: it fails now. */
    private void requireOpen() {
        if (channel.isShutdown()) {
            throw SluiceClientException.of(Status.UNAVAILABLE.withDescription("the client is closed"), null, target);
        }
    }

    private SluiceGrpc.SluiceBlockingStub stub() {
        return calls.stub();
    }

    private <T> T call(Supplier<T> rpc) {
        return calls.call(rpc);
    }

    /**
     * Closes the open subscriptions (all at once: each waits up to 2 s for the broker to confirm its last
     * acks), then the channel (waiting up to 5 s for calls in flight), and returns once the futures of the
     * publishes answered are completed (up to 5 s more). Idempotent.
     */
    @Override
    public void close() {
        var closing = new ArrayList<Thread>();
        for (Subscription s : List.copyOf(subscriptions)) {
            closing.add(Thread.ofVirtual().name("sluice-client-close").start(s::close));
        }
        boolean interrupted = false;
        for (Thread t : closing) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;   // the subscriptions still end; the channel below is shut down at once
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        publishes.close();
        callbacks.shutdown();   // the futures already answered still complete
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
                channel.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
        awaitCallbacks();
        net.stopThread();
    }

    /**
     * Waits (up to 5 s) until the futures already answered are completed, so none is pending once close
     * returns; not on the callback thread itself (a callback that closes the client).
     */
    private void awaitCallbacks() {
        if (Thread.currentThread() == callbackThread) {
            return;
        }
        try {
            callbacks.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
