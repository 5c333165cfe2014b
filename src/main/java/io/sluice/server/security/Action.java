package io.sluice.server.security;

/**
 * What a grant allows on a topic. {@code PUBLISH} covers Publish, BatchPublish, PublishStream and
 * naming the topic as a dead-letter topic; {@code SUBSCRIBE} covers Subscribe in every mode;
 * {@code ADMIN} covers the calls that change a topic or a group (see {@link Rpcs}).
 */
public enum Action {
    PUBLISH, SUBSCRIBE, ADMIN;

    /** The name used in the auth file and the audit log. */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
