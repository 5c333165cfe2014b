package io.sluice.server;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.sluice.delivery.Delivery;
import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import io.sluice.proto.BatchMessage;
import io.sluice.proto.BatchPublishRequest;
import io.sluice.proto.BatchPublishResponse;
import io.sluice.proto.ConfigureTopicRequest;
import io.sluice.proto.ConfigureTopicResponse;
import io.sluice.proto.ConfigureConsumerGroupRequest;
import io.sluice.proto.ConfigureConsumerGroupResponse;
import io.sluice.proto.ConsumerGroupStats;
import io.sluice.proto.DeleteConsumerGroupRequest;
import io.sluice.proto.DeleteConsumerGroupResponse;
import io.sluice.proto.DeleteTopicRequest;
import io.sluice.proto.DeleteTopicResponse;
import io.sluice.proto.GetTopicStatsRequest;
import io.sluice.proto.GetTopicStatsResponse;
import io.sluice.proto.ListTopicsRequest;
import io.sluice.proto.ListTopicsResponse;
import io.sluice.proto.PublishRequest;
import io.sluice.proto.PublishResponse;
import io.sluice.proto.PublishResult;
import io.sluice.proto.PublishStreamRequest;
import io.sluice.proto.PublishStreamResponse;
import io.sluice.proto.ResetCursorRequest;
import io.sluice.proto.ResetCursorResponse;
import io.sluice.proto.SluiceGrpc;
import io.sluice.server.security.Access;
import io.sluice.proto.SubscribeDownstream;
import io.sluice.proto.SubscribeUpstream;
import io.sluice.proto.Topic;
import io.sluice.proto.TopicStats;
import io.sluice.store.Appended;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.Completion;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.StartPosition;
import io.sluice.store.Pending;
import io.sluice.store.Store;
import io.sluice.store.TopicInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * The {@code sluice.v1.Sluice} service. Publish, BatchPublish and PublishStream run on their
 * transport thread: messages are checked and queued to the writer there, never blocking, and
 * answered there once committed. Every other unary RPC runs on its own virtual thread and simply
 * blocks until its answer is committed or read; Subscribe hands each stream to {@link Delivery}.
 */
final class SluiceService extends SluiceGrpc.SluiceImplBase {
    private static final System.Logger LOG = System.getLogger(SluiceService.class.getName());
    private final Store store;
    private final MemoryBudget budget;
    private final Publisher publisher;
    private final Delivery delivery;
    private final Executor senders;
    private final Transport transport;
    private final Set<PublishStreamHandler> publishStreams = ConcurrentHashMap.newKeySet();

    /** A handler body that may block and fail with a broker failure. */
    private interface Call<T> {
        T run() throws InterruptedException;
    }

    /** {@code senders} runs what may block (every call but the publishes); {@code transport} finds a call's thread. */
    SluiceService(Store store, MemoryBudget budget, Publisher publisher, Delivery delivery, Executor senders,
                  Transport transport) {
        this.store = store;
        this.budget = budget;
        this.senders = senders;
        this.transport = transport;
        this.publisher = publisher;
        this.delivery = delivery;
    }

    @Override
    public StreamObserver<PublishStreamRequest> publishStream(StreamObserver<PublishStreamResponse> responses) {
        return new PublishStreamHandler(store, budget, publisher, transport.current(senders), responses,
                publishStreams);
    }

    /**
     * Shutdown: every open PublishStream answers what it took, refuses the rest and ends with
     * UNAVAILABLE, so a client holding its stream open does not hold the shutdown for the grace period.
     */
    void shutDownPublishStreams() {
        List.copyOf(publishStreams).forEach(PublishStreamHandler::shutDown);
    }

    @Override
    public StreamObserver<SubscribeUpstream> subscribe(StreamObserver<SubscribeDownstream> responses) {
        return new SubscribeHandler(delivery, responses, transport.current(null), senders);
    }

    @Override
    public void publish(PublishRequest request, StreamObserver<PublishResponse> out) {
        try {
            var message = publisher.check(request.getTopic(), request.getPayload(), request.getAttributesMap(),
                    request.getDedupId());
            new UnaryPublish<>(publisher, request.getTopic(), List.of(message), request.hasExpectedLastSequence()
                    ? OptionalLong.of(request.getExpectedLastSequence()) : OptionalLong.empty(), out,
                    transport.current(senders), stored -> {
                        Appended a = stored.getFirst();
                        return PublishResponse.newBuilder()
                                .setMessageId(a.id().toString())
                                .setSequence(a.sequence())
                                .setTimestamp(a.timestamp())
                                .setDuplicate(a.duplicate())
                                .build();
                    }).start();
        } catch (RuntimeException e) {
            out.onError(Statuses.of(e, "publishing"));
        }
    }

    @Override
    public void batchPublish(BatchPublishRequest request, StreamObserver<BatchPublishResponse> out) {
        try {
            var items = new ArrayList<Publisher.Item>(request.getMessagesCount());
            for (BatchMessage m : request.getMessagesList()) {
                items.add(new Publisher.Item(m.getPayload(), m.getAttributesMap(), m.getDedupId()));
            }
            var messages = publisher.checkBatch(request.getTopic(), items);
            new UnaryPublish<>(publisher, request.getTopic(), messages, request.hasExpectedLastSequence()
                    ? OptionalLong.of(request.getExpectedLastSequence()) : OptionalLong.empty(), out,
                    transport.current(senders), stored -> {
                        // The batch's timestamp is its stored messages' (duplicates keep their originals' own).
                        long timestamp = stored.stream().filter(a -> !a.duplicate()).findFirst()
                                .orElse(stored.getFirst()).timestamp();
                        var response = BatchPublishResponse.newBuilder().setTimestamp(timestamp);
                        for (Appended a : stored) {
                            response.addResults(PublishResult.newBuilder()
                                    .setMessageId(a.id().toString())
                                    .setSequence(a.sequence())
                                    .setDuplicate(a.duplicate())
                                    .setTimestamp(a.timestamp()));
                        }
                        return response.build();
                    }).start();
        } catch (RuntimeException e) {
            out.onError(Statuses.of(e, "publishing a batch"));
        }
    }

    @Override
    public void listTopics(ListTopicsRequest request, StreamObserver<ListTopicsResponse> out) {
        answer(out, "listing topics", () -> {
            int size = Pages.size(request.getPageSize());
            String listing = Pages.listing("ListTopics", List.of());
            String after = Pages.after(request.getPageToken(), listing);
            var response = ListTopicsResponse.newBuilder();
            var topics = store.topics().stream().filter(t -> Access.sees(t.name())).toList();   // by name
            int from = firstAfter(topics.stream().map(TopicInfo::name).toList(), after);
            int to = Math.min(topics.size(), from + size);
            for (var t : topics.subList(from, to)) {
                response.addTopics(Topic.newBuilder().setName(t.name()).setCreatedAt(t.createdAt()));
            }
            if (to < topics.size()) {
                response.setNextPageToken(Pages.tokenAfter(topics.get(to - 1).name(), listing));
            }
            return response.build();
        });
    }

    /** The index of the first name after {@code after} in a list ordered by name ("" = from the start). */
    private static int firstAfter(List<String> names, String after) {
        if (after.isEmpty()) {
            return 0;
        }
        int i = java.util.Collections.binarySearch(names, after);
        return i >= 0 ? i + 1 : -i - 1;
    }

    @Override
    public void getTopicStats(GetTopicStatsRequest request, StreamObserver<GetTopicStatsResponse> out) {
        answer(out, "reading topic stats", () -> {
            request.getTopicsList().forEach(Names::topic);
            int size = Pages.size(request.getPageSize());
            String listing = Pages.listing("GetTopicStats", request.getTopicsList());
            String after = Pages.after(request.getPageToken(), listing);
            List<String> names = (request.getTopicsList().isEmpty()
                    ? store.topics().stream().map(TopicInfo::name)
                    : request.getTopicsList().stream().distinct().sorted().filter(store::exists))
                    .filter(Access::sees).toList();
            var response = GetTopicStatsResponse.newBuilder();
            int bytes = 0;
            int i = firstAfter(names, after);
            for (; i < names.size() && response.getStatsCount() < size; i++) {
                List<io.sluice.store.TopicStats> one = store.stats(List.of(names.get(i)));
                if (one.isEmpty()) {
                    continue;   // deleted meanwhile
                }
                TopicStats stats = toProto(one.getFirst());
                bytes += stats.getSerializedSize() + 8;
                if (bytes > Pages.MAX_BYTES && response.getStatsCount() > 0) {
                    break;   // this topic starts the next page
                }
                response.addStats(stats);
            }
            if (i < names.size()) {
                response.setNextPageToken(Pages.tokenAfter(names.get(i - 1), listing));
            }
            return response.build();
        });
    }

    private static TopicStats toProto(io.sluice.store.TopicStats s) {
        long now = System.currentTimeMillis();
        var stats = TopicStats.newBuilder()
                .setTopic(s.topic())
                .setTotalMessages(s.totalMessages())
                .setFirstSequence(s.firstSequence())
                .setLastSequence(s.lastSequence())
                .setFirstMessageTimestamp(s.firstTimestamp())
                .setLastMessageTimestamp(s.lastTimestamp())
                .setCreatedAt(s.createdAt())
                .setConfig(TopicConfigs.toProto(s.config()))
                .setTotalBytes(s.totalBytes())
                .setDiscardedMessages(s.discarded());
        for (var g : s.groups()) {
            stats.addConsumerGroups(ConsumerGroupStats.newBuilder()
                    .setGroupName(g.group())
                    .setCursorSequence(g.cursor())
                    .setPendingCount(g.pending())
                    .setLastAckTimestamp(g.lastAckAt())
                    .setMode(GroupConfigs.toWire(g.mode()))
                    .setInFlight(g.inFlight())
                    .setOldestUnackedAgeMs(g.oldestUnackedAt() == 0 ? 0 : Math.max(0, now - g.oldestUnackedAt()))
                    .setDeadLettered(g.deadLettered())
                    .setRedelivered(g.redelivered()));
        }
        return stats.build();
    }

    @Override
    public void deleteTopic(DeleteTopicRequest request, StreamObserver<DeleteTopicResponse> out) {
        answer(out, "deleting a topic", () -> {
            String topic = Names.topic(request.getTopic());
            var pending = new Pending<Boolean>();
            store.deleteTopic(topic, pending);
            return DeleteTopicResponse.newBuilder().setDeleted(pending.await()).build();
        });
    }

    @Override
    public void deleteConsumerGroup(DeleteConsumerGroupRequest request,
                                    StreamObserver<DeleteConsumerGroupResponse> out) {
        answer(out, "deleting a consumer group", () -> {
            String topic = Names.topic(request.getTopic());
            String group = Names.group(request.getConsumerGroup());
            var pending = new Pending<Boolean>();
            store.deleteGroup(topic, group, pending);
            return DeleteConsumerGroupResponse.newBuilder().setDeleted(pending.await()).build();
        });
    }

    @Override
    public void resetCursor(ResetCursorRequest request, StreamObserver<ResetCursorResponse> out) {
        answer(out, "resetting a cursor", () -> {
            String topic = Names.topic(request.getTopic());
            String group = Names.group(request.getConsumerGroup());
            long sequence = request.getSequence();
            long last = store.lastSequence(topic);
            if (!store.exists(topic)) {
                throw new SluiceException.NotFound("topic " + topic + " does not exist");
            }
            if (request.hasTimestampMs()) {   // replay by time: sequence is ignored
                sequence = store.cursorAtTime(topic, request.getTimestampMs());
            }
            if (sequence < 0 || sequence > last) {
                throw new SluiceException.InvalidArgument("sequence " + Long.toUnsignedString(sequence)
                        + " is beyond the last sequence of topic " + topic + " (" + last + ")");
            }
            var pending = new Pending<Boolean>();
            Runnable failed = delivery.holdForReset(topic, group);
            try {
                store.resetCursor(topic, group, sequence, pending);
                if (!pending.await()) {
                    failed.run();
                    throw new SluiceException.NotFound("topic " + topic + " does not exist");
                }
            } catch (RuntimeException | InterruptedException e) {
                failed.run();
                throw e;
            }
            return ResetCursorResponse.newBuilder().setUpdated(true).build();
        });
    }

    @Override
    public void configureTopic(ConfigureTopicRequest request, StreamObserver<ConfigureTopicResponse> out) {
        answer(out, "configuring a topic", () -> {
            String topic = Names.topic(request.getTopic());
            var pending = new Pending<ConfiguredTopic>();
            store.configureTopic(topic, TopicConfigs.fromProto(request.getConfig()), pending);
            ConfiguredTopic configured = pending.await();
            return ConfigureTopicResponse.newBuilder()
                    .setConfig(TopicConfigs.toProto(configured.config()))
                    .setCreated(configured.created())
                    .build();
        });
    }

    @Override
    public void configureConsumerGroup(ConfigureConsumerGroupRequest request,
                                       StreamObserver<ConfigureConsumerGroupResponse> out) {
        answer(out, "configuring a consumer group", () -> {
            String topic = Names.topic(request.getTopic());
            String group = Names.group(request.getConsumerGroup());
            GroupMode mode = switch (request.getMode()) {
                case CONSUMER_GROUP -> GroupMode.EXCLUSIVE;
                case SHARED -> GroupMode.SHARED;
                case BROWSE, UNRECOGNIZED -> throw new SluiceException.InvalidArgument("mode "
                        + request.getModeValue() + " is not a consumer group's mode: CONSUMER_GROUP (0) or SHARED (20)");
            };
            GroupConfig config = request.hasConfig() ? GroupConfigs.fromWire(topic, group, request.getConfig())
                    : GroupConfig.DEFAULTS;
            StartPosition start = StartPositions.fromWire(request.getInitialPosition(),
                    request.getInitialPositionValue(), request.getOffset(), request.getStartTimestampMs(), topic,
                    store::lastSequence);
            var pending = new Pending<GroupSetup>();
            store.openGroup(new GroupRequest(topic, group, mode, config, start, request.hasConfig()), pending);
            GroupSetup setup = pending.await();
            return ConfigureConsumerGroupResponse.newBuilder()
                    .setCreated(setup.created())
                    .setConfig(GroupConfigs.toWire(setup.config()))
                    .setMode(GroupConfigs.toWire(setup.mode()))
                    .build();
        });
    }

    /** Runs a handler body and sends its answer, or the status its failure maps to. */
    private static <T> void answer(StreamObserver<T> out, String doing, Call<T> call) {
        T response;
        try {
            response = call.run();
        } catch (InterruptedException e) {
            out.onError(Status.UNAVAILABLE.withDescription("interrupted while " + doing + "; the broker is stopping")
                    .asRuntimeException());
            return;
        } catch (RuntimeException e) {
            out.onError(Statuses.of(e, doing));
            return;
        }
        out.onNext(response);
        out.onCompleted();
    }
}
