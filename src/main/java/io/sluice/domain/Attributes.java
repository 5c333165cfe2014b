package io.sluice.domain;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Message attributes: the rule they follow and their stored form, a sequence of length-prefixed
 * UTF-8 key and value pairs (no bytes at all for none).
 */
public final class Attributes {
    /** Attribute keys and values together may take at most this many UTF-8 bytes per message. */
    public static final int MAX_TOTAL_BYTES = 64 * 1024;
    /**
     * The heap one attribute takes beyond its UTF-8 bytes once decoded (a map entry and two strings:
     * about 86 bytes measured), as the broker's memory budgets count it: 64 KiB of one-byte attributes
     * take about 2 MiB parsed.
     */
    public static final int HEAP_PER_ATTRIBUTE = 96;
    private static final byte[] NONE = new byte[0];

    private Attributes() {
    }

    /** Throws INVALID_ARGUMENT when a key is empty or the attributes are larger than the limit. */
    public static void check(Map<String, String> attributes) {
        long total = 0;
        for (var e : attributes.entrySet()) {
            if (e.getKey().isEmpty()) {
                throw new SluiceException.InvalidArgument("attribute keys must not be empty");
            }
            total += utf8Length(e.getKey()) + utf8Length(e.getValue());
            if (total > MAX_TOTAL_BYTES) {
                throw new SluiceException.InvalidArgument("attributes take more than " + MAX_TOTAL_BYTES
                        + " bytes (keys and values together, UTF-8); " + attributes.size()
                        + (attributes.size() == 1 ? " attribute sent" : " attributes sent"));
            }
        }
    }

    /** The UTF-8 size of keys and values, as the limit counts it. */
    public static long size(Map<String, String> attributes) {
        long total = 0;
        for (var e : attributes.entrySet()) {
            total += utf8Length(e.getKey()) + utf8Length(e.getValue());
        }
        return total;
    }

    public static byte[] encode(Map<String, String> attributes) {
        if (attributes.isEmpty()) {
            return NONE;
        }
        int size = 0;
        for (var e : attributes.entrySet()) {
            size += CodedOutputStream.computeStringSizeNoTag(e.getKey())
                    + CodedOutputStream.computeStringSizeNoTag(e.getValue());
        }
        byte[] out = new byte[size];
        CodedOutputStream coded = CodedOutputStream.newInstance(out);
        try {
            for (var e : attributes.entrySet()) {
                coded.writeStringNoTag(e.getKey());
                coded.writeStringNoTag(e.getValue());
            }
            coded.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new IllegalStateException("attribute encoding overran its computed size", e);
        }
        return out;
    }

    public static Map<String, String> decode(byte[] stored) throws IOException {
        if (stored == null || stored.length == 0) {
            return Map.of();
        }
        var attributes = new LinkedHashMap<String, String>();
        CodedInputStream in = CodedInputStream.newInstance(stored);
        while (!in.isAtEnd()) {
            String key = in.readStringRequireUtf8();
            attributes.put(key, in.readStringRequireUtf8());
        }
        return attributes;
    }

    private static long utf8Length(String s) {
        // Fast path for ASCII, which is what almost every attribute is.
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) >= 0x80) {
                return s.getBytes(StandardCharsets.UTF_8).length;
            }
        }
        return s.length();
    }
}
