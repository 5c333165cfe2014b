package io.sluice.store;

import io.sluice.domain.SluiceException;

/** The refusals of the limits every backend keeps, worded once. */
public final class StoreLimits {
    private StoreLimits() {
    }

    /** Creating topic {@code name} would take the store past its limit of topics; it holds {@code held}. */
    public static SluiceException tooManyTopics(String name, long held) {
        return new SluiceException.TooLarge("cannot create topic " + name + ": the broker holds " + held
                + " topics, the limit (--max-topics); delete unused ones with DeleteTopic, or raise the limit");
    }
}
