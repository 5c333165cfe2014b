package io.sluice.store.postgres;

import io.sluice.store.StoreListener;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Tells this broker's listener what other brokers on the same database committed. Each write
 * transaction that changed something others must hear of sends one NOTIFY on the store's channel
 * (coalesced: one per transaction, never one per message), delivered by PostgreSQL at the commit:
 * first its claims, topic deletions, cursor resets and shared groups' settles ({@link PgEvents}),
 * then each topic appended to, once, with its last sequence. This thread ({@code sluice-pg-notify},
 * a platform thread: it blocks in the driver) LISTENs on its own connection and tells the listener.
 * As a fallback for a lost notification connection or a payload too long to send, it also reads once
 * a second every topic (its id and last sequence: appends, and deletions by a changed or missing id)
 * and every claimed or reset group (its claim and reset epochs), and tells what it had not been told.
 * A settle missed that way is not found by the poll: the streams it would have woken wait at most
 * their group's ack wait.
 *
 * <p>This broker's own commits are told by its writer thread alone: notifications sent by the
 * writer's session are ignored, and the writer records what it changed before its commit ({@link
 * #beforeCommit}, {@link PgSeen}), so the poll never finds it again.
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
    /** What has been told: by this thread, or recorded by the writer before its commit. */
    private final PgSeen seen = new PgSeen();
    /** Moved once the listener has been told of another broker's reset. */
    private final PgResetFences resetFences;
    /** The backend process of the writer's session: its notifications are its own commits. */
    private volatile int writerPid;
    private volatile boolean closed;
    private Connection connection;
    private long lastPoll;
    private boolean unreachable;
    /** The store runs alive at the last poll (notification thread only). */
    private Set<Long> liveRuns = Set.of();

    PgNotifications(PgConnector connector, String channel, StoreListener listener, long epoch,
                    PgResetFences resetFences) {
        this.resetFences = resetFences;
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

    /**
     * The payload of a transaction's notification: the lines of its {@code events}, then a line
     * "lastSequence topic" per topic appended to; when too long, the event lines and a line "*" (read
     * every topic now), or "*" alone.
     */
    static String payload(Map<String, Long> appended, String events) {
        if (events.length() > MAX_PAYLOAD) {
            return ALL_TOPICS;
        }
        var sb = new StringBuilder(events);
        for (var e : appended.entrySet()) {
            sb.append(e.getValue()).append(' ').append(e.getKey()).append('\n');
            if (sb.length() > MAX_PAYLOAD) {
                return events + ALL_TOPICS;
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
                    poll();   // whatever was committed while nobody listened
                    if (unreachable) {   // said once the poll worked too: a read-only database fails it each time
                        unreachable = false;
                        LOG.log(Level.INFO, "listening for other brokers' commits again");
                    }
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
        if (payload == null) {
            poll();
            return;
        }
        boolean pollNow = false;
        for (String line : payload.split("\n")) {
            if (line.equals(ALL_TOPICS)) {
                pollNow = true;
                continue;
            }
            String[] f = line.split(" ");
            try {
                switch (f[0]) {
                    case "C" -> claimed(f[2], f[3], Long.parseLong(f[1]));
                    case "D" -> deleted(f[2], Long.parseLong(f[1]));
                    case "R" -> reset(f[3], f[4], Long.parseLong(f[1]), Long.parseLong(f[2]));
                    case "S" -> tell(l -> l.sharedGroupChanged(f[2], f[3], f[1].equals("1")));
                    default -> moved(f[1], Long.parseLong(f[0]));
                }
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                LOG.log(Level.DEBUG, () -> "ignored a notification line: " + line);
            }
        }
        if (pollNow) {
            poll();
        }
    }

    /**
     * Says this store's run is alive; reads every topic (telling the listener of those that moved or
     * are gone) and every claimed or reset group (telling of claims and resets not told yet); then
     * has the streams waiting for room in shared groups ask again (settles are not read here).
     */
    private void poll() throws SQLException {
        lastPoll = System.nanoTime();
        PgRuns.alive(connection, epoch);
        long number = seen.pollBegins();
        var present = new HashMap<String, long[]>();
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT name, id, last_seq FROM topics")) {
            while (rs.next()) {
                present.put(rs.getString(1), new long[] {rs.getLong(2), rs.getLong(3)});
            }
        }
        for (var gone : seen.topics(number, present)) {
            tell(l -> l.topicDeleted(gone.getKey()));
        }
        present.forEach((topic, row) -> moved(topic, row[1]));
        var groups = new HashSet<String>();
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT t.name, g.name, g.claim_epoch, g.reset_epoch, g.cursor_seq "
                     + "FROM consumer_groups g JOIN topics t ON t.id = g.topic_id "
                     + "WHERE g.claim_epoch > 0 OR g.reset_epoch > 0")) {
            while (rs.next()) {
                String topic = rs.getString(1);
                String group = rs.getString(2);
                groups.add(PgSeen.groupKey(topic, group));
                claimed(topic, group, rs.getLong(3));
                long resetEpoch = rs.getLong(4);
                if (seen.reset(topic, group, resetEpoch)) {
                    long cursor = rs.getLong(5);
                    tell(l -> l.cursorReset(topic, group, cursor));
                    resetFences.told(topic, group, resetEpoch);
                }
            }
        }
        seen.retainGroups(groups);
        tell(StoreListener::sharedGroupsMayHaveChanged);   // what a missed notification said of shared groups
        if (someRunGone()) {
            tell(StoreListener::otherRunGone);
        }
    }

    /**
     * True when a store run alive at the last poll no longer is: its leases in shared groups now count
     * as released ({@link PgLeases#liveRuns}), and shared streams that are not waiting for room would
     * otherwise ask again only when their own leases come due.
     */
    private boolean someRunGone() throws SQLException {
        var live = new HashSet<Long>();
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery(PgLeases.LIVE_RUNS)) {
            while (rs.next()) {
                live.add(rs.getLong(1));
            }
        }
        boolean gone = !live.containsAll(liveRuns);
        liveRuns = live;
        return gone;
    }

    private void moved(String topic, long lastSequence) {
        if (seen.appended(topic, lastSequence)) {
            tell(l -> l.appended(topic, lastSequence));
        }
    }

    private void claimed(String topic, String group, long claim) {
        if (claim > 0 && seen.claimed(topic, group, claim)) {
            tell(l -> l.groupClaimed(topic, group, claim));
        }
    }

    private void deleted(String topic, long id) {
        if (seen.deleted(topic, id)) {
            tell(l -> l.topicDeleted(topic));
        }
    }

    /** A reset told by another broker: epoch 0 and cursor -1 for a deleted group. */
    private void reset(String topic, String group, long cursor, long resetEpoch) {
        if (resetEpoch == 0) {
            seen.groupDeleted(topic, group);
            tell(l -> l.cursorReset(topic, group, -1));
        } else if (seen.reset(topic, group, resetEpoch)) {
            tell(l -> l.cursorReset(topic, group, cursor));
            resetFences.told(topic, group, resetEpoch);
        }
    }

    private void tell(java.util.function.Consumer<StoreListener> event) {
        try {
            event.accept(listener);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "a listener failed on another broker's commit", e);
        }
    }

    /** On the writer thread, for each new connection: notifications from its session are this broker's own. */
    @Override
    public void connected(Connection c) throws SQLException {
        writerPid = c.unwrap(PGConnection.class).getBackendPID();
    }

    /**
     * On the writer thread, last in each transaction: one NOTIFY (PostgreSQL delivers it at the commit)
     * with the transaction's events and each topic appended to with its last sequence, and what it
     * changed recorded as told. A transaction that changed nothing others must hear of sends none.
     */
    @Override
    public Notice notice(Map<String, Long> appended, PgEvents events) {
        seen.recordOwn(appended, events);
        String lines = events.lines();
        if (appended.isEmpty() && lines.isEmpty()) {
            return null;
        }
        return new Notice(channel, payload(appended, lines));
    }

    /** On the writer thread, after a commit: what it recorded stands. */
    @Override
    public void committed() {
        seen.ownCommitted();
    }

    @Override
    public String channel() {
        return channel;
    }

    @Override
    public Map<String, Long> committedAppends(Map<String, Long> appended) {
        var untold = new LinkedHashMap<String, Long>();
        appended.forEach((topic, last) -> {
            if (seen.appended(topic, last)) {
                untold.put(topic, last);
            }
        });
        return untold;
    }

    /** On the writer thread, after a transaction failed: what it recorded is taken back. */
    @Override
    public void rolledBack() {
        seen.ownRolledBack();
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
