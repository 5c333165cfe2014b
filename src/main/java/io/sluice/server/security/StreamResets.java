package io.sluice.server.security;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How a call finds its HTTP/2 stream to reset it. gRPC resets a server's stream only when the call's
 * deadline passes, and offers no other way; the connection's watcher ({@link Streams}) puts a reference
 * to the stream in each Subscribe call's headers ({@link #HEADER}, set over whatever the client sent)
 * and keeps the reset here while the stream is open.
 */
public final class StreamResets {
    /** The header naming a call's stream: its connection and stream id. */
    public static final String HEADER = "sluice-stream-ref";
    private static final Map<String, Runnable> OPEN = new ConcurrentHashMap<>();

    private StreamResets() {
    }

    static void open(String ref, Runnable reset) {
        OPEN.put(ref, reset);
    }

    static void closed(String ref) {
        OPEN.remove(ref);
    }

    /** Resets (RST_STREAM CANCEL) the stream {@code ref} names, on its connection's thread; null: none is open. */
    public static Runnable of(String ref) {
        return ref == null ? null : OPEN.get(ref);
    }
}
