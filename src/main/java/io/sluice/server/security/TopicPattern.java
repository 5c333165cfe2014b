package io.sluice.server.security;

import java.util.List;

/**
 * A topic pattern of the auth file: {@code .}-separated tokens, where {@code *} matches exactly one
 * token, {@code >} (only as the last token) matches one or more remaining tokens, and anything else
 * matches itself. So {@code orders.*} admits {@code orders.eu} but not {@code orders.eu.x}, and
 * {@code orders.>} admits both but not {@code orders}.
 */
record TopicPattern(String text, List<String> tokens) {

    static TopicPattern parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("a topic pattern is empty");
        }
        List<String> tokens = List.of(text.split("\\.", -1));
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            if (t.isEmpty()) {
                throw new IllegalArgumentException("topic pattern '" + text + "' has an empty token");
            }
            if (t.equals(">") && i != tokens.size() - 1) {
                throw new IllegalArgumentException("topic pattern '" + text + "': '>' may only be the last token");
            }
            if (!t.equals("*") && !t.equals(">") && !t.matches("[A-Za-z0-9_-]+")) {
                throw new IllegalArgumentException("topic pattern '" + text + "': token '" + t
                        + "' is neither *, > nor made of [A-Za-z0-9_-]");
            }
        }
        return new TopicPattern(text, tokens);
    }

    boolean matches(String topic) {
        int start = 0;
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            if (start > topic.length()) {
                return false;   // the topic has fewer tokens than the pattern
            }
            if (t.equals(">")) {
                return start < topic.length();   // one or more tokens remain
            }
            int dot = topic.indexOf('.', start);
            int end = dot < 0 ? topic.length() : dot;
            if (!t.equals("*") && !topic.regionMatches(start, t, 0, t.length())) {
                return false;
            }
            if (!t.equals("*") && end - start != t.length()) {
                return false;
            }
            if (t.equals("*") && end == start) {
                return false;
            }
            start = end + 1;
        }
        return start == topic.length() + 1;   // every token of the topic consumed
    }

    @Override
    public String toString() {
        return text;
    }
}
