package io.sluice.server.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import io.sluice.proto.SluiceGrpc;
import io.sluice.proto.StreamError;
import io.sluice.proto.SubscribeDownstream;
import java.net.SocketAddress;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLSession;

/**
 * Guards the {@code sluice.v1.Sluice} service (health and reflection are not bound through it):
 * authenticates each call from its headers or client certificate (UNAUTHENTICATED otherwise),
 * checks the grant where the first request names the topic (PERMISSION_DENIED; a Subscribe stream
 * first gets {@code StreamError{code:"PERMISSION_DENIED"}}), hands the callers of streams to
 * {@link OpenStreams} to be checked again as the auth file changes and tokens expire, writes the
 * audit lines of admin calls and denials, and bounds the Subscribe
 * streams open on the broker (RESOURCE_EXHAUSTED past the limit). Runs on the thread gRPC calls it on
 * (the transport thread for the publishes); it never blocks but for an audit line's write.
 */
final class AuthInterceptor implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String SUBSCRIBE = SluiceGrpc.getSubscribeMethod().getFullMethodName();
    private static final String PUBLISH_STREAM = SluiceGrpc.getPublishStreamMethod().getFullMethodName();

    private final Authenticator authenticator;
    private final AuditLog audit;
    private final StreamCount subscribeStreams;
    private final OpenStreams streams;

    AuthInterceptor(Authenticator authenticator, AuditLog audit, StreamCount subscribeStreams, OpenStreams streams) {
        this.authenticator = authenticator;
        this.audit = audit;
        this.subscribeStreams = subscribeStreams;
        this.streams = streams;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        boolean subscribe = method.equals(SUBSCRIBE);
        if (!authenticator.enabled() && !audit.enabled() && !subscribe) {
            return next.startCall(call, headers);   // nothing to enforce or record: no cost per call
        }
        String rpc = Rpcs.shortName(method);
        String peer = peer(call);
        SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        String authorization = headers.get(AUTHORIZATION);
        Principal principal;
        try {
            if (authenticator.enabled() && more(headers.getAll(AUTHORIZATION))) {
                throw new Authenticator.Refused("more than one authorization header: send one");
            }
            principal = authenticator.authenticate(authorization, tls);
        } catch (Authenticator.Refused e) {
            String kind = authorization != null ? "token"
                    : Authenticator.peerCertificate(tls) != null ? "certificate" : "none";
            // The request's topic is not read yet: a call refused on its headers names none.
            // A certificate matching no client is known by its serial number, as an accepted one is.
            String credentialId = kind.equals("certificate") ? serial(tls) : e.principal;
            audit.write(new AuditLog.Entry(e.principal, kind, credentialId, peer, rpc, "", "", "deny",
                    "UNAUTHENTICATED"));
            call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
            return new ServerCall.Listener<>() { };
        }
        String credentialId = principal.kind() == Principal.Kind.TOKEN ? principal.id()
                : principal.kind() == Principal.Kind.CERTIFICATE ? serial(tls) : "";
        var caller = new Caller(principal, authorization, tls, credentialId, peer, rpc, audit);
        Rpcs.Rule rule = Rpcs.of(method);
        if (rule == null && principal.grants() != null) {
            String message = caller.deny(Action.ADMIN, "", null, "PERMISSION_DENIED");
            call.close(Status.PERMISSION_DENIED.withDescription(rpc + " is not covered by any grant: " + message),
                    new Metadata());
            return new ServerCall.Listener<>() { };
        }
        if (subscribe && !subscribeStreams.tryOpen()) {
            call.close(Status.RESOURCE_EXHAUSTED.withDescription(subscribeStreams.limit()
                    + " Subscribe streams are open, the broker's limit (--max-subscribe-streams); retry later"),
                    new Metadata());
            return new ServerCall.Listener<>() { };
        }
        var guarded = new Guarded<>(call, caller, rule, subscribe);
        if (authenticator.enabled() && (subscribe || method.equals(PUBLISH_STREAM))) {
            streams.opened(caller);
        }
        try {
            ServerCall.Listener<Q> inner = Contexts.interceptCall(Context.current().withValue(Caller.KEY, caller),
                    guarded, headers, next);
            return guarded.listener(inner);
        } catch (RuntimeException e) {
            guarded.finished();
            throw e;
        }
    }

    /** Whether {@code values} holds more than one value. */
    private static boolean more(Iterable<String> values) {
        if (values == null) {
            return false;
        }
        var i = values.iterator();
        i.next();
        return i.hasNext();
    }

    private static String peer(ServerCall<?, ?> call) {
        SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return a == null ? "" : a.toString();
    }

    private static String serial(SSLSession tls) {
        X509Certificate c = Authenticator.peerCertificate(tls);
        return c == null ? "" : "serial:" + c.getSerialNumber().toString(16);
    }

    /** One guarded call: its answers pass through here, its requests through {@link #listener}. */
    private final class Guarded<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
        private final Caller caller;
        private final Rpcs.Rule rule;
        private final boolean subscribe;
        private final AtomicBoolean released = new AtomicBoolean();
        // Written by the listener's serialized callbacks, read when the call closes.
        private volatile boolean denied;
        private volatile String topic;
        private volatile String group;

        Guarded(ServerCall<Q, R> call, Caller caller, Rpcs.Rule rule, boolean subscribe) {
            super(call);
            this.caller = caller;
            this.rule = rule;
            this.subscribe = subscribe;
        }

        @Override
        public void close(Status status, Metadata trailers) {
            // A PERMISSION_DENIED the service gave (a dead-letter topic's grant) was audited where it was decided.
            if (rule != null && rule.audited() && !denied && status.getCode() != Status.Code.PERMISSION_DENIED) {
                audit.write(caller.entry(topic, group, "allow", status.getCode().name()));
            }
            super.close(status, trailers);
        }

        /** The request side: checks the first request's topic, then hands everything on. */
        ServerCall.Listener<Q> listener(ServerCall.Listener<Q> inner) {
            return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
                private boolean checked;

                @Override
                public void onMessage(Q message) {
                    if (denied) {
                        return;
                    }
                    if (!checked && rule != null && rule.check() == Rpcs.Check.FIRST_REQUEST) {
                        checked = true;
                        topic = rule.topic().apply(message);
                        group = rule.group().apply(message);
                        // A name the broker refuses anyway is left to the handler (INVALID_ARGUMENT naming the
                        // rule), so a denial never echoes a name of any size into its status and the audit log.
                        if (topic != null && !valid(topic, group)) {
                            topic = clipped(topic);   // as the audit line shows it
                            group = clipped(group);
                        } else if (topic != null && !caller.principal().allows(rule.action(), topic)) {
                            deny(rule.action());
                            return;
                        } else if (topic != null && subscribe) {
                            caller.subscribed(topic, group);
                        }
                    }
                    super.onMessage(message);
                }

                @Override
                public void onHalfClose() {
                    if (!denied) {
                        super.onHalfClose();
                    }
                }

                @Override
                public void onReady() {
                    if (!denied) {
                        super.onReady();
                    }
                }

                @Override
                public void onCancel() {
                    try {
                        super.onCancel();
                    } finally {
                        finished();
                    }
                }

                @Override
                public void onComplete() {
                    try {
                        super.onComplete();
                    } finally {
                        finished();
                    }
                }
            };
        }

        private static boolean valid(String topic, String group) {
            try {
                Names.topic(topic);
                Names.group(group);
                return true;
            } catch (SluiceException.InvalidArgument e) {
                return false;
            }
        }

        /** A name the broker refuses, cut to its first 64 characters and its length. */
        private static String clipped(String name) {
            return name == null || name.length() <= 64 ? name
                    : name.substring(0, 64) + "... (" + name.length() + " characters)";
        }

        @SuppressWarnings("unchecked")
        private void deny(Action action) {
            denied = true;
            String message = caller.deny(action, topic, group, "PERMISSION_DENIED");
            ServerCall<Q, R> call = delegate();
            if (subscribe) {
                call.sendHeaders(new Metadata());
                call.sendMessage((R) SubscribeDownstream.newBuilder()
                        .setError(StreamError.newBuilder().setCode("PERMISSION_DENIED").setMessage(message))
                        .build());
            }
            call.close(Status.PERMISSION_DENIED.withDescription(message), new Metadata());
        }

        void finished() {
            streams.closed(caller);
            if (subscribe && released.compareAndSet(false, true)) {
                subscribeStreams.closed();
            }
        }
    }
}
