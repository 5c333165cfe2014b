package io.sluice.server;

import io.sluice.domain.Names;
import io.sluice.domain.SluiceException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;

/**
 * Listing in pages (ListTopics, GetTopicStats): topics in name order, a page at a time, so no answer
 * outgrows a default client's 4 MiB. A page token is opaque to clients: it names the last topic of
 * the previous page, and the next page starts after it, so topics created or deleted between pages
 * neither repeat nor shift the rest. It also carries a digest of the listing it was given for (the
 * RPC and the topics asked for), so a token passed with another request is refused rather than
 * silently skipping topics. Tokens are not secret: any broker on the same storage takes them, and one
 * made by hand only starts a page after the topic it names.
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

    /**
     * The listing a token belongs to: {@code rpc} and the topics it asks for (in any order, repeats
     * alike), as a short digest. Topic names hold no ':', the token's separator.
     */
    static String listing(String rpc, List<String> topics) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        sha.update(rpc.getBytes(StandardCharsets.UTF_8));
        for (String topic : new TreeSet<>(topics)) {
            sha.update((byte) '\n');
            sha.update(topic.getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(sha.digest(), 0, 8);
    }

    /**
     * The topic a page of {@code listing} starts after ("" for the first page); refuses a token this
     * broker did not give, or gave for another listing.
     */
    static String after(String token, String listing) {
        if (token.isEmpty()) {
            return "";
        }
        String decoded;
        try {
            decoded = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw invalid();
        }
        int colon = decoded.indexOf(':', PREFIX.length());
        if (!decoded.startsWith(PREFIX) || colon < 0) {
            throw invalid();
        }
        String topic;
        try {
            topic = Names.topic(decoded.substring(colon + 1));
        } catch (SluiceException e) {
            throw invalid();
        }
        if (!decoded.substring(PREFIX.length(), colon).equals(listing)) {
            throw new SluiceException.InvalidArgument("page_token was given for another request (another RPC or "
                    + "other topics); pass the next_page_token of the previous page with the same request");
        }
        return topic;
    }

    /** The token of the page of {@code listing} that follows one ending with {@code lastTopic}. */
    static String tokenAfter(String lastTopic, String listing) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((PREFIX + listing + ":" + lastTopic).getBytes(StandardCharsets.UTF_8));
    }

    private static SluiceException invalid() {
        return new SluiceException.InvalidArgument("page_token is not one this broker gave; pass the "
                + "next_page_token of the previous page, or none for the first page");
    }
}
