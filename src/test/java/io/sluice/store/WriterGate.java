package io.sluice.store;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Holds the backend's writing thread once it has committed an append to the gate's topic, so that
 * a test can queue writes that the writer then drains into one transaction. Listeners are told
 * after a commit's callers are completed, on the writing thread: keying on a topic (not on "the
 * next commit") keeps an earlier commit's late notification from closing the gate.
 */
public final class WriterGate implements StoreListener {
    private final String topic;
    private final AtomicBoolean armed = new AtomicBoolean();
    private volatile CountDownLatch held = new CountDownLatch(1);
    private volatile CountDownLatch released = new CountDownLatch(1);

    public WriterGate(String topic) {
        this.topic = topic;
    }

    /** Catch the writer after the next append to the gate's topic. */
    public void arm() {
        held = new CountDownLatch(1);
        released = new CountDownLatch(1);
        armed.set(true);
    }

    public void awaitHeld() throws InterruptedException {
        assertTrue(held.await(Outcome.WAIT.toSeconds(), TimeUnit.SECONDS), "the writer reached the gate");
    }

    public void release() {
        released.countDown();
    }

    @Override
    public void appended(String appendedTopic, long lastSequence) {
        if (appendedTopic.equals(topic) && armed.compareAndSet(true, false)) {
            held.countDown();
            try {
                released.await(Outcome.WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
