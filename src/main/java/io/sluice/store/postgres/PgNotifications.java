package io.sluice.store.postgres;

import io.sluice.store.StoreListener;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Wakes this broker's subscribers for commits made by other brokers on the same database. Each
 * write transaction that appended sends one NOTIFY on the store's channel (coalesced: one per
 * transaction, naming each topic once with its last sequence, never one per message), delivered by
 * PostgreSQL at the commit. This thread ({@code sluice-pg-notify}, a platform thread: it blocks in
 * the driver) LISTENs on its own connection and tells the listener. As a fallback for a lost
 * notification connection or a payload too long to send, it also reads every topic's last
 * sequence once a second and tells the listener of each that moved.
 *
 * <p>This broker's own commits are told by its writer thread alone: notifications sent by the
 * writer's session are ignored, and the writer records each topic's new last sequence before its
 * commit ({@link #beforeCommit}), so the poll never finds it moved.
 */
final class PgNotifications implements PgCommitAnnouncer, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PgNotifications.class.getName());
    /** How often every topic's last sequence is read, whatever the notifications said. */
    static final long POLL_MILLIS = 1000;
    /** Payloads past this size (PostgreSQL's limit is 8000 bytes) are sent as "*": read every topic now. */
    static final int MAX_PAYLOAD = 7000;
    static final String ALL_TOPICS = "*";
    /** The longest wait for a notification in one go: how long {@link #close} may wait for the thread. */
    private static final int WAIT_SLICE_MILLIS = 100;

    private final PgConnector connector;
    private final String channel;
    private final StoreListener listener;
    private final Thread thread;
    /** This store's run: said alive with every poll ({@link PgRuns}). */
    private final long epoch;
    /** The last sequence told of each topic: by this thread, or recorded by the writer before its commit. */
    private final ConcurrentHashMap<String, Long> lastSeen = new ConcurrentHashMap<>();
    /** What the writer's transaction in progress replaced in {@link #lastSeen} (writer thread only). */
    private final Map<String, Long> replaced = new HashMap<>();
    /** The backend process of the writer's session: its notifications are its own commits. */
    private volatile int writerPid;
    private volatile boolean closed;
    private Connection connection;
    private long lastPoll;
    private boolean unreachable;

    PgNotifications(PgConnector connector, String channel, StoreListener listener, long epoch) {
        this.connector = connector;
        this.epoch = epoch;
        this.channel = channel;
        this.listener = listener;
        this.thread = Thread.ofPlatform().name("sluice-pg-notify").daemon().unstarted(this::run);
    }

    /** The channel of the store in {@code schema}: brokers on other schemas of the database are not woken. */
    static String channelFor(String schema) {
        String name = "sluice_appended_" + schema;
        return name.length() > 63 ? name.substring(0, 63) : name;
    }

    /** The payload announcing appends: a line "lastSequence topic" per topic, or "*" when too long. */
    static String payload(Map<String, Long> appended) {
        var sb = new StringBuilder();
        for (var e : appended.entrySet()) {
            sb.append(e.getValue()).append(' ').append(e.getKey()).append('\n');
            if (sb.length() > MAX_PAYLOAD) {
                return ALL_TOPICS;
            }
        }
        return sb.toString();
    }

    void start() {
        thread.start();
    }

    private void run() {
        while (!closed) {
            try {
                if (connection == null) {
                    connection = connector.open(true);
                    try (Statement st = connection.createStatement()) {
                        st.execute("LISTEN \"" + channel.replace("\"", "\"\"") + "\"");
                    }
                    if (unreachable) {
                        unreachable = false;
                        LOG.log(Level.INFO, "listening for other brokers' commits again");
                    }
                    poll();   // whatever was committed while nobody listened
                }
                PGNotification[] notes = connection.unwrap(PGConnection.class).getNotifications(WAIT_SLICE_MILLIS);
                if (notes != null) {
                    for (PGNotification n : notes) {
                        if (n.getPID() != writerPid) {
                            take(n.getParameter());
                        }
                    }
                }
                if (System.nanoTime() - lastPoll >= TimeUnit.MILLISECONDS.toNanos(POLL_MILLIS)) {
                    poll();
                }
            } catch (SQLException | RuntimeException e) {
                PgConnector.closeQuietly(connection);
                connection = null;
                if (closed) {
                    return;
                }
                if (!unreachable) {
                    unreachable = true;
                    LOG.log(Level.WARNING, "cannot listen for other brokers' commits (" + e
                            + "); subscribers here see them once the database answers again");
                }
                pause();
            }
        }
        PgConnector.closeQuietly(connection);
    }

    private void take(String payload) throws SQLException {
        if (payload == null || payload.equals(ALL_TOPICS)) {
            poll();
            return;
        }
        for (String line : payload.split("\n")) {
            int space = line.indexOf(' ');
            if (space <= 0) {
                continue;
            }
            try {
                moved(line.substring(space + 1), Long.parseLong(line.substring(0, space)));
            } catch (NumberFormatException e) {
                LOG.log(Level.DEBUG, () -> "ignored a notification line: " + line);
            }
        }
    }

    /** Says this store's run is alive, reads every topic's last sequence and tells the listener of those that moved. */
    private void poll() throws SQLException {
        lastPoll = System.nanoTime();
        PgRuns.alive(connection, epoch);
        var present = new HashSet<String>();
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT name, last_seq FROM topics")) {
            while (rs.next()) {
                present.add(rs.getString(1));
                moved(rs.getString(1), rs.getLong(2));
            }
        }
        lastSeen.keySet().retainAll(present);   // deleted topics are forgotten
    }

    private void moved(String topic, long lastSequence) {
        boolean[] moved = {false};
        lastSeen.compute(topic, (t, before) -> {
            if (before == null || lastSequence > before) {
                moved[0] = true;
                return lastSequence;
            }
            return before;
        });
        if (moved[0]) {
            try {
                listener.appended(topic, lastSequence);
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "a listener failed on another broker's commit", e);
            }
        }
    }

    /** On the writer thread, for each new connection: notifications from its session are this broker's own. */
    @Override
    public void connected(Connection c) throws SQLException {
        writerPid = c.unwrap(PGConnection.class).getBackendPID();
    }

    /**
     * On the writer thread, last in each transaction: one NOTIFY naming each topic appended to with
     * its last sequence (PostgreSQL delivers it at the commit), and those sequences recorded as told.
     */
    @Override
    public void beforeCommit(Connection c, Map<String, Long> appended) throws SQLException {
        replaced.clear();
        if (appended.isEmpty()) {
            return;
        }
        try (var st = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            st.setString(1, channel);
            st.setString(2, payload(appended));
            st.executeQuery().close();
        }
        appended.forEach((topic, last) -> {
            Long before = lastSeen.put(topic, last);
            replaced.put(topic, before == null ? -1L : before);
        });
    }

    /** On the writer thread, after a commit: what it recorded stands. */
    @Override
    public void committed() {
        replaced.clear();
    }

    /** On the writer thread, after a transaction failed: its sequences were never committed. */
    @Override
    public void rolledBack() {
        replaced.forEach((topic, before) -> {
            if (before < 0) {
                lastSeen.remove(topic);
            } else {
                lastSeen.put(topic, before);
            }
        });
        replaced.clear();
    }

    private void pause() {
        try {
            Thread.sleep(POLL_MILLIS);
        } catch (InterruptedException e) {
            closed = true;
        }
    }

    /** Stops listening; waits a bounded time for the thread. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        closed = true;
        thread.interrupt();
        thread.join(TimeUnit.MILLISECONDS.toMillis(3 * POLL_MILLIS));
    }
}
