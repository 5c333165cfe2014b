package io.sluice.domain;

/**
 * The domain failures of the broker. Each kind maps to one gRPC status in {@code Statuses.of};
 * messages name the problem in the user's terms, never SQL.
 */
public abstract sealed class SluiceException extends RuntimeException {

    SluiceException(String message, Throwable cause) {
        super(message, cause, false, cause != null);
    }

    /** A bad name, bad attributes, or a request that breaks the protocol. */
    public static final class InvalidArgument extends SluiceException {
        public InvalidArgument(String message) {
            super(message, null);
        }
    }

    /** A payload or request above a configured size limit. */
    public static final class TooLarge extends SluiceException {
        public TooLarge(String message) {
            super(message, null);
        }
    }

    /** The disk holding the data directory is full; retrying after space is freed succeeds. */
    public static final class DiskFull extends SluiceException {
        public DiskFull(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The broker is stopping, or storage refuses writes until a restart. */
    public static final class Unavailable extends SluiceException {
        public Unavailable(String message) {
            super(message, null);
        }
    }

    /** A storage failure that is neither a full disk nor damaged data. */
    public static final class StorageFailure extends SluiceException {
        public StorageFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Stored data failed its checksum or the database is damaged. */
    public static final class Corrupted extends SluiceException {
        public Corrupted(String message) {
            super(message, null);
        }
    }

    /** The caller's credentials are missing, unknown or expired (see {@code --auth-file}). */
    public static final class Unauthenticated extends SluiceException {
        public Unauthenticated(String message) {
            super(message, null);
        }
    }

    /** The caller holds no grant for this action on this topic (see {@code --auth-file}). */
    public static final class PermissionDenied extends SluiceException {
        public PermissionDenied(String message) {
            super(message, null);
        }
    }

    /**
     * The request conflicts with the state it meets: a consumer group of another mode, or a stale
     * {@code expected_last_sequence}.
     */
    public static final class FailedPrecondition extends SluiceException {
        public FailedPrecondition(String message) {
            super(message, null);
        }
    }

    /** A topic or consumer group that does not exist. */
    public static final class NotFound extends SluiceException {
        public NotFound(String message) {
            super(message, null);
        }
    }

    /** A topic at its configured limit under the discard policy NEW refuses new messages. */
    public static final class TopicFull extends SluiceException {
        public TopicFull(String message) {
            super(message, null);
        }
    }

    /**
     * A newer stream of the consumer group claimed it (a takeover, on this broker or another): the
     * stale stream's writes to the group are refused and the stream ends TAKEN_OVER.
     */
    public static final class TakenOver extends SluiceException {
        public TakenOver(String message) {
            super(message, null);
        }
    }

    /**
     * An operator's cursor reset voided a shared group's leases while a stream's request for leases
     * waited for room: the request gets none, and the stream ends CURSOR_RESET.
     */
    public static final class LeasesVoided extends SluiceException {
        public LeasesVoided(String message) {
            super(message, null);
        }
    }
}
