package io.sluice.server;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;

/**
 * Refuses a health check naming a service longer than any there is ({@value #MAX} characters): the
 * health service echoes the name into its NOT_FOUND status, so a 4 MB name came back as a 4 MB
 * header, which clients (8 KiB by default) see as a broken connection rather than the answer.
 */
final class HealthNames implements ServerInterceptor {
    static final int MAX = 256;

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        ServerCall.Listener<Q> inner = next.startCall(call, headers);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
            private boolean refused;

            @Override
            public void onMessage(Q message) {
                if (message instanceof HealthCheckRequest r && r.getService().length() > MAX) {
                    refused = true;
                    call.close(Status.INVALID_ARGUMENT.withDescription("the service name is "
                            + r.getService().length() + " characters long; no service has a name over " + MAX),
                            new Metadata());
                    return;
                }
                super.onMessage(message);
            }

            @Override
            public void onHalfClose() {
                if (!refused) {
                    super.onHalfClose();
                }
            }
        };
    }
}
