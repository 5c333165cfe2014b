package io.sluice.cli;

/** A client command could not do what it was asked; Main prints the message as {@code sluice: <message>}, exit 1. */
final class CommandFailure extends RuntimeException {
    CommandFailure(String message) {
        super(message);
    }

    CommandFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
