package io.sluice.domain;

/** The naming rule shared by topics and consumer groups: 1–255 characters of {@code [A-Za-z0-9._-]}. */
public final class Names {
    public static final int MAX_LENGTH = 255;
    public static final String DEFAULT_GROUP = "default";

    private Names() {
    }

    /** Returns the topic name when it follows the rule, else throws INVALID_ARGUMENT naming the rule. */
    public static String topic(String name) {
        return check("topic", name);
    }

    /** Returns the group name, {@code default} for an empty one, else throws naming the rule. */
    public static String group(String name) {
        return name == null || name.isEmpty() ? DEFAULT_GROUP : check("consumer group", name);
    }

    private static String check(String what, String name) {
        if (name == null || name.isEmpty()) {
            throw new SluiceException.InvalidArgument(what + " name is empty; names are 1-"
                    + MAX_LENGTH + " characters of A-Z a-z 0-9 . _ -");
        }
        if (name.length() > MAX_LENGTH) {
            throw new SluiceException.InvalidArgument(what + " name is " + name.length()
                    + " characters long; names are 1-" + MAX_LENGTH + " characters of A-Z a-z 0-9 . _ -");
        }
        int position = 0;   // in characters as a user counts them (code points), not UTF-16 units
        for (int i = 0; i < name.length(); position++) {
            int c = name.codePointAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                throw new SluiceException.InvalidArgument(what + " name " + quote(name)
                        + " has the character " + describe(c) + " at position " + position
                        + "; names are 1-" + MAX_LENGTH + " characters of A-Z a-z 0-9 . _ -");
            }
            i += Character.charCount(c);
        }
        return name;
    }

    private static String describe(int codePoint) {
        return codePoint >= 0x20 && codePoint < 0x7f ? "'" + (char) codePoint + "'"
                : String.format("U+%04X", codePoint);
    }

    private static String quote(String name) {
        var b = new StringBuilder("\"");
        name.codePoints().limit(64).forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7f) {
                b.appendCodePoint(cp);
            } else {
                b.append(String.format("\\u%04X", cp));
            }
        });
        return b.append(name.length() > 64 ? "...\"" : "\"").toString();
    }
}
