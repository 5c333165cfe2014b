package io.sluice.server;

import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Listing in pages (ListTopics, GetTopicStats): topics in name order, a page at a time, so no answer
 * outgrows a default client's 4 MiB. A page token is opaque to clients: it names the last topic of
 * the previous page, and the next page starts after it, so topics created or deleted between pages
 * neither repeat nor shift the rest.
 */
final class Pages {
    /** Topics in a page when the request asks for none (page_size 0). */
    static final int DEFAULT_SIZE = 1_000;
    /** The most topics a page may hold (names of 255 characters: under 3 MB). */
    static final int MAX_SIZE = 10_000;
    /** A page of stats stops growing past this many bytes (a default client takes 4 MiB). */
    static final int MAX_BYTES = 3 << 20;

    private static final String PREFIX = "after:";

    private Pages() {
    }

    /** The page size a request asks for, with 0 meaning the default; refuses one over the maximum. */
    static int size(int requested) {
        if (requested < 0 || requested > MAX_SIZE) {
            throw new SluiceException.InvalidArgument("page_size " + Integer.toUnsignedString(requested)
                    + " is over the maximum of " + MAX_SIZE);
        }
        return requested == 0 ? DEFAULT_SIZE : requested;
    }

    /** The topic a page starts after ("" for the first page); refuses a token this broker did not give. */
    static String after(String token) {
        if (token.isEmpty()) {
            return "";
        }
        String decoded;
        try {
            decoded = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw invalid();
        }
        if (!decoded.startsWith(PREFIX)) {
            throw invalid();
        }
        String topic = decoded.substring(PREFIX.length());
        try {
            return Names.topic(topic);
        } catch (SluiceException e) {
            throw invalid();
        }
    }

    /** The token of the page that follows one ending with {@code lastTopic}. */
    static String tokenAfter(String lastTopic) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((PREFIX + lastTopic).getBytes(StandardCharsets.UTF_8));
    }

    private static SluiceException invalid() {
        return new SluiceException.InvalidArgument("page_token is not one this broker gave; pass the "
                + "next_page_token of the previous page, or none for the first page");
    }
}
