package io.sluice.telemetry;

/** JSON string literals, written by hand where a JSON library would be the only reason for one. */
public final class JsonText {
    private JsonText() {
    }

    /** A JSON string literal: quotes, backslashes, control characters and U+2028/U+2029 escaped. */
    public static String quote(String s) {
        return quote(s, false);
    }

    /**
     * As {@link #quote(String)}; with {@code htmlSafe}, also {@code <}, {@code >} and {@code &}, so the
     * literal can sit inside an HTML page without closing a tag.
     */
    public static String quote(String s, boolean htmlSafe) {
        var b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    boolean html = htmlSafe && (c == '<' || c == '>' || c == '&');
                    if (c < 0x20 || c == 0x2028 || c == 0x2029 || html) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
