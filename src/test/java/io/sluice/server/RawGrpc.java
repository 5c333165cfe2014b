package io.sluice.server;

import com.google.protobuf.CodedOutputStream;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Requests as raw bytes over a real gRPC channel: hand-built protobuf encodings the generated
 * classes refuse to build (a string field that is not UTF-8, a truncated field, unknown fields).
 */
final class RawGrpc {
    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private RawGrpc() {
    }

    /** A unary call of {@code fullMethodName} with these bytes as the request: OK or the status. */
    static Status unary(Channel channel, String fullMethodName, byte[] request) {
        var method = MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(fullMethodName).setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        try {
            ClientCalls.blockingUnaryCall(channel, method, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
                    request);
            return Status.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
    }

    /** A bidi stream of {@code fullMethodName} that sends these requests, then waits for its end. */
    static Ended bidi(Channel channel, String fullMethodName, List<byte[]> requests) throws InterruptedException {
        var method = MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.BIDI_STREAMING)
                .setFullMethodName(fullMethodName).setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        var responses = new CopyOnWriteArrayList<byte[]>();
        var done = new CountDownLatch(1);
        var status = new Status[1];
        StreamObserver<byte[]> up = ClientCalls.asyncBidiStreamingCall(channel.newCall(method, CallOptions.DEFAULT),
                new StreamObserver<>() {
                    @Override
                    public void onNext(byte[] value) {
                        responses.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        status[0] = Status.fromThrowable(t);
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        status[0] = Status.OK;
                        done.countDown();
                    }
                });
        requests.forEach(up::onNext);
        if (!done.await(20, TimeUnit.SECONDS)) {
            up.onError(Status.CANCELLED.withDescription("the test gives up").asRuntimeException());
            done.await(5, TimeUnit.SECONDS);
            return new Ended(List.copyOf(responses), null);
        }
        return new Ended(List.copyOf(responses), status[0]);
    }

    /** What a raw stream received, and its status (null: still open when the test gave up). */
    record Ended(List<byte[]> responses, Status status) {
    }

    /** A protobuf encoding built field by field, with no checks. */
    static final class Proto {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final CodedOutputStream out = CodedOutputStream.newInstance(bytes);

        Proto bytes(int field, byte[] value) {
            try {
                out.writeByteArray(field, value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        Proto string(int field, String value) {
            return bytes(field, value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }

        Proto varint(int field, long value) {
            try {
                out.writeUInt64(field, value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        Proto message(int field, Proto inner) {
            return bytes(field, inner.build());
        }

        byte[] build() {
            try {
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        }
    }
}
