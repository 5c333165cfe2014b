package io.sluice.store;

import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Tells every registered {@link StoreListener} what a backend's writer (and, on a store shared by
 * several brokers, its notifications) tells this one: every event of the interface. Listeners may
 * be added at any time.
 */
public final class ListenerFanOut implements StoreListener {
    private final CopyOnWriteArrayList<StoreListener> listeners = new CopyOnWriteArrayList<>();

    public void add(StoreListener listener) {
        listeners.add(listener);
    }

    @Override
    public void appended(String topic, long lastSequence) {
        listeners.forEach(l -> l.appended(topic, lastSequence));
    }

    @Override
    public void topicDeleted(String topic) {
        listeners.forEach(l -> l.topicDeleted(topic));
    }

    @Override
    public void cursorReset(String topic, String group, long cursor) {
        listeners.forEach(l -> l.cursorReset(topic, group, cursor));
    }

    @Override
    public void groupClaimed(String topic, String group, long claim) {
        listeners.forEach(l -> l.groupClaimed(topic, group, claim));
    }

    @Override
    public void sharedGroupChanged(String topic, String group, boolean released) {
        listeners.forEach(l -> l.sharedGroupChanged(topic, group, released));
    }

    @Override
    public void sharedGroupsMayHaveChanged() {
        listeners.forEach(StoreListener::sharedGroupsMayHaveChanged);
    }

    @Override
    public void otherRunGone() {
        listeners.forEach(StoreListener::otherRunGone);
    }

    @Override
    public void discarded(String topic, long removed, long unconsumed) {
        listeners.forEach(l -> l.discarded(topic, removed, unconsumed));
    }

    @Override
    public void refusingWrites(String reason) {
        listeners.forEach(l -> l.refusingWrites(reason));
    }

    @Override
    public void writerFailed(String reason, Throwable cause) {
        listeners.forEach(l -> l.writerFailed(reason, cause));
    }
}
