package io.sluice.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.domain.SluiceException;
import java.lang.System.Logger.Level;

/** Maps the broker's failures to gRPC statuses, in one exhaustive switch. */
public final class Statuses {
    private static final System.Logger LOG = System.getLogger(Statuses.class.getName());

    private Statuses() {
    }

    public static Status.Code codeOf(SluiceException e) {
        return switch (e) {
            case SluiceException.InvalidArgument x -> Status.Code.INVALID_ARGUMENT;
            case SluiceException.TooLarge x -> Status.Code.RESOURCE_EXHAUSTED;
            case SluiceException.DiskFull x -> Status.Code.UNAVAILABLE;
            case SluiceException.Unavailable x -> Status.Code.UNAVAILABLE;
            case SluiceException.StorageFailure x -> Status.Code.INTERNAL;
            case SluiceException.Corrupted x -> Status.Code.DATA_LOSS;
            case SluiceException.NotFound x -> Status.Code.NOT_FOUND;
            case SluiceException.FailedPrecondition x -> Status.Code.FAILED_PRECONDITION;
            case SluiceException.PermissionDenied x -> Status.Code.PERMISSION_DENIED;
            case SluiceException.Unauthenticated x -> Status.Code.UNAUTHENTICATED;
            case SluiceException.TopicFull x -> Status.Code.RESOURCE_EXHAUSTED;
            case SluiceException.TakenOver x -> Status.Code.ABORTED;
            case SluiceException.LeasesVoided x -> Status.Code.ABORTED;
        };
    }

    /** The status for a broker failure, with its message. */
    public static StatusRuntimeException of(SluiceException e) {
        return Status.fromCode(codeOf(e)).withDescription(e.getMessage()).asRuntimeException();
    }

    /** The status of a handler's failure: a broker failure's own, else INTERNAL (see {@link #unexpected}). */
    public static StatusRuntimeException of(RuntimeException e, String doing) {
        return e instanceof SluiceException s ? of(s) : unexpected(doing, e);
    }

    /** The status for anything a handler did not expect: INTERNAL, logged once with its cause. */
    public static StatusRuntimeException unexpected(String doing, Throwable t) {
        LOG.log(Level.ERROR, "unexpected failure " + doing, t);
        return Status.INTERNAL.withDescription("internal error " + doing + ": " + t).asRuntimeException();
    }

    public static StatusRuntimeException shuttingDown() {
        return Status.UNAVAILABLE.withDescription("the broker is shutting down").asRuntimeException();
    }
}
