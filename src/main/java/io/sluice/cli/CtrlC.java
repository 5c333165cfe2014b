package io.sluice.cli;

import io.sluice.client.SluiceClient;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Ctrl-C (SIGINT, and SIGTERM alike) while a command works through its items one step at a time
 * (subscribe: print a message, then acknowledge it; publish --batch: send a batch, then print its
 * ids): the step in hand is finished, no other starts, then the command's last words run (commit the
 * last ack; say how many messages were stored), and the JVM exits with 130. Without this the JVM
 * exits wherever the command's thread is, between printing a message and acknowledging it.
 *
 * <p>Threads: the command's thread brackets each step with {@link #begin()} and {@link #end()}, and
 * waits for its next item (a delivery, a line of input) outside them, where the exit need not wait
 * for it. The JVM's shutdown hook thread ({@code sluice-ctrl-c}) waits, on this lock's condition,
 * for the step in hand to end (at most {@link #STEP_WAIT}), then runs the last words; the JVM halts
 * when it returns. {@link #close()} removes the hook, or, once it has started, waits for its last
 * words, so that the command does not close the client they use.
 */
final class CtrlC implements AutoCloseable {
    /** Longest the exit waits for a step: a publish is answered or fails within the client's call timeout. */
    private static final Duration STEP_WAIT = SluiceClient.DEFAULT_CALL_TIMEOUT.plusSeconds(5);

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition stepEnded = lock.newCondition();
    private final CountDownLatch spoken = new CountDownLatch(1);
    private final Runnable lastWords;
    private final Thread hook;
    private boolean stopping;   // guarded by lock
    private boolean inStep;     // guarded by lock

    private CtrlC(Runnable lastWords) {
        this.lastWords = lastWords;
        this.hook = Thread.ofPlatform().name("sluice-ctrl-c").unstarted(this::stop);
    }

    /** Registers the shutdown hook; {@code lastWords} runs on it once the step in hand has ended. */
    static CtrlC install(Runnable lastWords) {
        var c = new CtrlC(lastWords);
        Runtime.getRuntime().addShutdownHook(c.hook);
        return c;
    }

    /** Before a step: false once the JVM is stopping, and the step is not to start. */
    boolean begin() {
        lock.lock();
        try {
            if (stopping) {
                return false;
            }
            inStep = true;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** After a step (also when it failed). */
    void end() {
        lock.lock();
        try {
            inStep = false;
            stepEnded.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The shutdown hook: no step starts from now on; the one in hand is waited for, then the last words. */
    private void stop() {
        lock.lock();
        try {
            stopping = true;
            long left = STEP_WAIT.toNanos();
            while (inStep && left > 0) {
                left = stepEnded.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            // nobody interrupts a shutdown hook; if one did, the last words are still due
        } finally {
            lock.unlock();
        }
        try {
            lastWords.run();
        } finally {
            spoken.countDown();
        }
    }

    /**
     * The command is done: the hook is removed. If the JVM is already stopping, waits for the hook's
     * last words instead (the JVM halts after them), since they may still use the client.
     */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
            return;
        } catch (IllegalStateException e) {
            // the JVM is stopping: the hook runs, or has run
        }
        try {
            spoken.await(STEP_WAIT.toNanos() * 2, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
