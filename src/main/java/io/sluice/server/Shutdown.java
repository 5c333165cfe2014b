package io.sluice.server;

import java.lang.System.Logger.Level;

/**
 * Runs the steps of a shutdown in their fixed order, each whatever happened to the ones before: a
 * step that fails is logged with its name and the next one still runs, so one broken part never
 * leaves the others open. An interrupt during a step is kept for the caller.
 */
final class Shutdown {
    private static final System.Logger LOG = System.getLogger(Shutdown.class.getName());

    /** One step; may throw anything. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    private int failed;

    /** Runs {@code step}; a failure is logged as the failure of {@code name} and swallowed. */
    Shutdown then(String name, Step step) {
        try {
            step.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed++;
            LOG.log(Level.WARNING, "shutdown: interrupted while " + name);
        } catch (Exception | Error e) {
            failed++;
            LOG.log(Level.ERROR, "shutdown: " + name + " failed; going on with the rest", e);
        }
        return this;
    }

    /** Runs {@code step} when {@code part} exists (a start that failed half way has only some parts). */
    Shutdown then(String name, Object part, Step step) {
        return part == null ? this : then(name, step);
    }

    /** How many steps failed. */
    int failures() {
        return failed;
    }
}
