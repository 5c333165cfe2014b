package io.sluice.server;

import io.sluice.store.DatabaseTarget;
import io.sluice.store.StoreOptions;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Everything the broker is started with. Defaults: gRPC on 0.0.0.0:50051, metrics on 9090 (0 turns
 * the endpoint off), data in {@code ./sluice-data}, 4 MiB payloads, 16 MiB and 10,000-message batch
 * requests, no OTLP export ({@code otlpEndpoint} null), a memory budget for publishes of a quarter of
 * the heap ({@code maxQueuedBytes}, at least 16 MiB). {@code database}: a PostgreSQL database to keep
 * the data in instead of SQLite in {@code dataDir} (null: SQLite).
 */
public record ServerConfig(String host, int port, int metricsPort, Path dataDir, int maxMessageBytes,
                           int maxBatchBytes, int writerQueue, Duration heartbeat, Duration shutdownGrace,
                           StoreOptions storeOptions, String otlpEndpoint, int maxBatchMessages,
                           long maxQueuedBytes, DatabaseTarget database) {

    public static final int DEFAULT_PORT = 50051;
    public static final int DEFAULT_METRICS_PORT = 9090;
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
    public static final int DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024;
    public static final int DEFAULT_MAX_BATCH_MESSAGES = 10_000;
    /** Most messages a batch may hold: its answer (about 50 bytes a message) must fit a default client's 4 MiB. */
    public static final int MAX_BATCH_MESSAGES = 50_000;

    /** The default budget for bytes of publishes held: a quarter of the heap, at least 16 MiB. */
    public static long defaultMaxQueuedBytes() {
        return Math.max(16L << 20, Runtime.getRuntime().maxMemory() / 4);
    }

    public ServerConfig {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port must be 0-65535, not " + port);
        }
        if (metricsPort < 0 || metricsPort > 65535) {
            throw new IllegalArgumentException("--metrics-port must be 0-65535 (0 = off), not " + metricsPort);
        }
        if (maxMessageBytes < 1) {
            throw new IllegalArgumentException("--max-message-bytes must be positive, not " + maxMessageBytes);
        }
        if (maxBatchBytes < maxMessageBytes) {
            throw new IllegalArgumentException("--max-batch-bytes (" + maxBatchBytes
                    + ") must be at least --max-message-bytes (" + maxMessageBytes + ")");
        }
        if (writerQueue < 1) {
            throw new IllegalArgumentException("--writer-queue must hold at least 1 operation, not " + writerQueue);
        }
        if (maxBatchMessages < 1 || maxBatchMessages > MAX_BATCH_MESSAGES) {
            throw new IllegalArgumentException("--max-batch-messages must be 1-" + MAX_BATCH_MESSAGES
                    + " (a larger batch's answer would not fit a default client's 4 MiB), not " + maxBatchMessages);
        }
        if (maxQueuedBytes < 1) {
            throw new IllegalArgumentException("--max-queued-bytes must be positive, not " + maxQueuedBytes);
        }
        if (heartbeat.isNegative() || heartbeat.isZero()) {
            throw new IllegalArgumentException("--heartbeat must be positive, not " + heartbeat);
        }
    }

    /** The defaults, with data in {@code dataDir}. */
    public static ServerConfig defaults(Path dataDir) {
        return new ServerConfig("0.0.0.0", DEFAULT_PORT, DEFAULT_METRICS_PORT, dataDir, DEFAULT_MAX_MESSAGE_BYTES,
                DEFAULT_MAX_BATCH_BYTES, 8192, Duration.ofSeconds(10), Duration.ofSeconds(10),
                StoreOptions.defaults(), null, DEFAULT_MAX_BATCH_MESSAGES, defaultMaxQueuedBytes(), null);
    }

    public ServerConfig withPorts(int grpcPort, int metrics) {
        return new ServerConfig(host, grpcPort, metrics, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    public ServerConfig withHost(String newHost) {
        return new ServerConfig(newHost, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    public ServerConfig withLimits(int messageBytes, int batchBytes) {
        return new ServerConfig(host, port, metricsPort, dataDir, messageBytes, batchBytes, writerQueue, heartbeat,
                shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    public ServerConfig withHeartbeat(Duration interval) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                interval, shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    /** At most {@code operations} writes queued for the writer before publishers wait. */
    public ServerConfig withWriterQueue(int operations) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, operations,
                heartbeat, shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    public ServerConfig withStoreOptions(StoreOptions options) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, options, otlpEndpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    public ServerConfig withOtlpEndpoint(String endpoint) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, storeOptions, endpoint, maxBatchMessages, maxQueuedBytes, database);
    }

    /** At most {@code messages} messages a BatchPublish. */
    public ServerConfig withMaxBatchMessages(int messages) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, storeOptions, otlpEndpoint, messages, maxQueuedBytes, database);
    }

    /** At most {@code bytes} of publishes held between their reading and their answer (the memory budget). */
    public ServerConfig withMaxQueuedBytes(long bytes) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, bytes, database);
    }

    /** Keeps the data in the PostgreSQL database {@code url} names instead of SQLite (null: SQLite in the data directory). */
    public ServerConfig withDatabase(DatabaseTarget url) {
        return new ServerConfig(host, port, metricsPort, dataDir, maxMessageBytes, maxBatchBytes, writerQueue,
                heartbeat, shutdownGrace, storeOptions, otlpEndpoint, maxBatchMessages, maxQueuedBytes, url);
    }

    /** The largest request the transport accepts: the batch limit plus room for framing and attributes. */
    int maxInboundBytes() {
        return (int) Math.min(Integer.MAX_VALUE, (long) maxBatchBytes + (2L << 20));
    }
}
