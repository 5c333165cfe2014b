package io.sluice.server;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.sluice.server.security.Oversize;
import io.sluice.proto.SluiceGrpc;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.function.Function;

/**
 * Binds a service so that a request which is not a valid protobuf message of its type (bytes that
 * do not parse, a string field that is not UTF-8) is answered INVALID_ARGUMENT naming the problem.
 * Left to itself, grpc-java answers a request its marshaller cannot parse with UNKNOWN
 * "Application error processing RPC" and logs a stack trace at SEVERE for every such request.
 *
 * <p>Each method is re-bound with a request marshaller that never throws: it answers the parsed
 * message, or a {@link Malformed} holding the status. A unary call, or a stream whose first
 * message is malformed, is closed here before its handler saw anything. A later message of a
 * stream is handed to the handler as {@code null} with the status in {@link #MALFORMED}, because
 * only the handler knows which thread may write to its call; it ends the stream with that status.
 * The method descriptors keep their names and schema descriptors, so reflection is unchanged.
 *
 * <p>{@link #closing} binds a service whose handlers answer only from their listener thread
 * (grpc-java's health and reflection services): there a malformed message at any point closes the
 * call here, and its handler hears nothing more but the end.
 */
final class RequestParsing {
    /** Set (in the call's context) while a handler's {@code onNext(null)} reports a malformed message. */
    static final Context.Key<Status> MALFORMED = Context.key("sluice-malformed-request");

    /** A request that did not parse. */
    private record Malformed(Status status) {
    }

    private RequestParsing() {
    }

    /** The status of the malformed message being handed over as null, or INVALID_ARGUMENT when called otherwise. */
    static Status malformed() {
        Status s = MALFORMED.get();
        return s != null ? s : Status.INVALID_ARGUMENT.withDescription("a request message is missing");
    }

    /**
     * Our own services: a malformed later message of a stream is handed to the handler as null (above),
     * and a BatchPublish is weighed before it is parsed: {@code weigh} answers the status that refuses
     * it unparsed, or null ({@link BatchWeight}).
     */
    static ServerServiceDefinition strict(ServerServiceDefinition service, Function<BatchWeight, Status> weigh) {
        return rebind(service, false, weigh);
    }

    /** Services that cannot take a null message: any malformed message closes the call here. */
    static ServerServiceDefinition closing(ServerServiceDefinition service) {
        return rebind(service, true, null);
    }

    private static ServerServiceDefinition rebind(ServerServiceDefinition service, boolean closeOnAny,
                                                  Function<BatchWeight, Status> weigh) {
        var methods = new ArrayList<ServerMethodDefinition<?, ?>>();
        var descriptor = ServiceDescriptor.newBuilder(service.getServiceDescriptor().getName())
                .setSchemaDescriptor(service.getServiceDescriptor().getSchemaDescriptor());
        for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
            ServerMethodDefinition<?, ?> strict = rebind(method, closeOnAny, weigh);
            methods.add(strict);
            descriptor.addMethod(strict.getMethodDescriptor());
        }
        var out = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(out::addMethod);
        return out.build();
    }

    private static <Q, R> ServerMethodDefinition<Object, R> rebind(ServerMethodDefinition<Q, R> definition,
                                                                   boolean closeOnAny,
                                                                   Function<BatchWeight, Status> weigh) {
        MethodDescriptor<Q, R> original = definition.getMethodDescriptor();
        MethodDescriptor.Marshaller<Q> parser = original.getRequestMarshaller();
        String type = original.getFullMethodName();
        boolean weighed = weigh != null && type.equals(SluiceGrpc.getBatchPublishMethod().getFullMethodName());
        var lenient = new MethodDescriptor.Marshaller<Object>() {
            @Override
            @SuppressWarnings("unchecked")
            public InputStream stream(Object value) {
                return parser.stream((Q) value);
            }

            @Override
            public Object parse(InputStream stream) {
                Status over = Oversize.status(stream, type);
                if (over != null) {
                    return new Malformed(over);
                }
                try {
                    if (!weighed) {
                        return parser.parse(stream);
                    }
                    byte[] encoded = stream.readAllBytes();
                    BatchWeight weight = BatchWeight.of(encoded);
                    Status heavy = weight == null ? null : weigh.apply(weight);
                    return heavy != null ? new Malformed(heavy) : parser.parse(new ByteArrayInputStream(encoded));
                } catch (IOException e) {
                    return new Malformed(unparsable(type, new UncheckedIOException(e)));
                } catch (RuntimeException e) {
                    return new Malformed(unparsable(type, e));
                }
            }
        };
        MethodDescriptor<Object, R> rebound = original.toBuilder(lenient, original.getResponseMarshaller()).build();
        ServerCallHandler<Q, R> handler = definition.getServerCallHandler();
        return ServerMethodDefinition.create(rebound, (call, headers) -> {
            var listener = handler.startCall(new Unwrapped<>(call, original), headers);
            return new Listener<>(call, listener, closeOnAny);
        });
    }

    /**
     * Why a request did not parse: a size limit met while decompressing it keeps its own status
     * (RESOURCE_EXHAUSTED); a compressed request cut short or not in its encoding says so; anything
     * else is not a valid message of its type.
     */
    static Status unparsable(String method, RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof io.grpc.StatusRuntimeException s
                    && s.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                return s.getStatus().withDescription("a request to " + method + ": " + s.getStatus().getDescription());
            }
            if (t instanceof java.io.EOFException) {
                return Status.INVALID_ARGUMENT.withDescription("a request to " + method + " ends before it is whole "
                        + "(a compressed request cut short?)");
            }
            if (t instanceof java.util.zip.ZipException z) {
                return Status.INVALID_ARGUMENT.withDescription("a request to " + method + " could not be "
                        + "decompressed: " + z.getMessage());
            }
        }
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        String why = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        return Status.INVALID_ARGUMENT.withDescription("a request to " + method
                + " is not a valid protobuf message of its type: " + why);
    }

    /** Hands parsed messages on; refuses a malformed one. Runs on the call's serialized listener thread. */
    private static final class Listener<Q, R> extends ServerCall.Listener<Object> {
        private final ServerCall<Object, R> call;
        private final ServerCall.Listener<Q> delegate;
        private final boolean closeOnAny;
        private boolean received;   // a message reached the handler
        private boolean refused;    // closed here: the handler hears nothing more but the end

        Listener(ServerCall<Object, R> call, ServerCall.Listener<Q> delegate, boolean closeOnAny) {
            this.call = call;
            this.delegate = delegate;
            this.closeOnAny = closeOnAny;
        }

        @Override
        @SuppressWarnings("unchecked")
        public void onMessage(Object message) {
            if (refused) {
                return;
            }
            if (!(message instanceof Malformed bad)) {
                received = true;
                delegate.onMessage((Q) message);
                return;
            }
            if (closeOnAny || !received || call.getMethodDescriptor().getType().clientSendsOneMessage()) {
                // Nothing of this call reached the handler, or the handler writes only from this thread:
                // nobody else writes to it now.
                refused = true;
                call.close(bad.status(), new Metadata());
                return;
            }
            Context.current().withValue(MALFORMED, bad.status()).run(() -> delegate.onMessage(null));
        }

        @Override
        public void onHalfClose() {
            if (!refused) {
                delegate.onHalfClose();
            }
        }

        @Override
        public void onCancel() {
            delegate.onCancel();
        }

        @Override
        public void onComplete() {
            delegate.onComplete();
        }

        @Override
        public void onReady() {
            if (!refused) {
                delegate.onReady();
            }
        }
    }

    /** The call as the handler expects it: its own request type and method descriptor. */
    private static final class Unwrapped<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<Object, R> call;
        private final MethodDescriptor<Q, R> method;

        Unwrapped(ServerCall<Object, R> call, MethodDescriptor<Q, R> method) {
            this.call = call;
            this.method = method;
        }

        @Override
        public void request(int numMessages) {
            call.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            call.sendHeaders(headers);
        }

        @Override
        public void sendMessage(R message) {
            call.sendMessage(message);
        }

        @Override
        public boolean isReady() {
            return call.isReady();
        }

        @Override
        public void close(Status status, Metadata trailers) {
            call.close(status, trailers);
        }

        @Override
        public boolean isCancelled() {
            return call.isCancelled();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            call.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            call.setCompression(compressor);
        }

        @Override
        public void setOnReadyThreshold(int numBytes) {
            call.setOnReadyThreshold(numBytes);
        }

        @Override
        public SecurityLevel getSecurityLevel() {
            return call.getSecurityLevel();
        }

        @Override
        public Attributes getAttributes() {
            return call.getAttributes();
        }

        @Override
        public String getAuthority() {
            return call.getAuthority();
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }
    }
}
