package io.sluice.store.sqlite;

import io.sluice.store.StoreListener;
import java.util.concurrent.CopyOnWriteArrayList;

/** Tells every registered {@link StoreListener} what the writer tells this one. Listeners may be added at any time. */
final class ListenerFanOut implements StoreListener {
    private final CopyOnWriteArrayList<StoreListener> listeners = new CopyOnWriteArrayList<>();

    void add(StoreListener listener) {
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
