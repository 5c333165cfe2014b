package io.sluice.bench;

import io.grpc.stub.StreamObserver;

/** Turns the answer of one unary call into one {@link ClosedLoop.Done} call: {@code messages} on success. */
final class Answer<T> implements StreamObserver<T> {
    private final ClosedLoop.Done done;
    private final int messages;

    Answer(ClosedLoop.Done done, int messages) {
        this.done = done;
        this.messages = messages;
    }

    @Override
    public void onNext(T value) {
        // the reply itself carries nothing the figures need
    }

    @Override
    public void onError(Throwable t) {
        done.done(0, t);
    }

    @Override
    public void onCompleted() {
        done.done(messages, null);
    }
}
