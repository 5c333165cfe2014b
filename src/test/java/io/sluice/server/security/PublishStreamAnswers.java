package io.sluice.server.security;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.sluice.proto.PublishStreamResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/** A PublishStream's answers as they come, and the status it ended with. */
final class PublishStreamAnswers implements StreamObserver<PublishStreamResponse> {
    final LinkedBlockingQueue<PublishStreamResponse> answers = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();

    @Override
    public void onNext(PublishStreamResponse r) {
        answers.add(r);
    }

    @Override
    public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
        ended.complete(Status.OK);
    }
}
