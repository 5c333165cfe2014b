package io.sluice.server.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * The parsed auth file (SPEC §7): bearer tokens kept as SHA-256 hashes with optional expiry, client
 * certificate names, and an optional anonymous grant. Immutable; a reload parses a new one and swaps
 * it in whole, so a file with any error is refused entirely and the old one stays.
 */
record AuthFile(List<Token> tokens, List<Client> clients, Grants anonymous) {
    private static final System.Logger LOG = System.getLogger(AuthFile.class.getName());

    /** Larger auth files are refused: nobody writes one this big by hand, and it bounds what a reload reads. */
    static final int MAX_BYTES = 4 << 20;

    /** One token entry; {@code expires} is null when the token does not expire. */
    record Token(String id, byte[] sha256, Instant expires, Grants grants) {
    }

    /** One client certificate entry, matched on the certificate's subject CN or a DNS SAN. */
    record Client(String name, Grants grants) {
    }

    /**
     * Reads and checks the file; throws {@link IllegalArgumentException} naming the first problem. A file
     * that admits no one is taken, with a warning: emptying the file is how an operator shuts every
     * caller out at once, and a reload that refused it would keep the old grants in force instead.
     */
    static AuthFile read(Path file) throws IOException {
        if (Files.size(file) > MAX_BYTES) {
            throw new IllegalArgumentException(file + " is over " + MAX_BYTES + " bytes");
        }
        AuthFile parsed = parse(Files.readString(file, StandardCharsets.UTF_8));
        if (parsed.admitsNoOne()) {
            LOG.log(System.Logger.Level.WARNING, "the auth file " + file + " admits no one: it has no tokens, no "
                    + "clients and no anonymous section, so every call is refused with UNAUTHENTICATED");
        }
        return parsed;
    }

    private static String where(java.util.Optional<org.snakeyaml.engine.v2.exceptions.Mark> mark) {
        return mark.map(m -> "at line " + (m.getLine() + 1) + ", column " + (m.getColumn() + 1)).orElse("");
    }

    /** No token, no client certificate name and no anonymous section: every call is unauthenticated. */
    boolean admitsNoOne() {
        return tokens.isEmpty() && clients.isEmpty() && anonymous == null;
    }

    static AuthFile parse(String yaml) {
        Object root;
        try {
            root = new Load(LoadSettings.builder().setAllowDuplicateKeys(false).build()).loadFromString(yaml);
        } catch (MarkedYamlEngineException e) {
            // Where and what, never the text of the line: it may hold a hash, or a token pasted by mistake.
            String context = e.getContext() == null ? "" : e.getContext() + " " + where(e.getContextMark()) + ": ";
            throw new IllegalArgumentException("not valid YAML: " + context + e.getProblem() + " "
                    + where(e.getProblemMark()));
        } catch (YamlEngineException e) {
            throw new IllegalArgumentException("not valid YAML: " + e.getMessage().replace('\n', ' '));
        }
        if (root == null) {
            return new AuthFile(List.of(), List.of(), null);
        }
        Map<String, Object> top = map(root, "the auth file");
        onlyKeys(top, "the auth file", Set.of("tokens", "clients", "anonymous"));
        var tokens = new ArrayList<Token>();
        var ids = new HashSet<String>();
        var idsByHash = new HashMap<String, String>();
        for (Object o : list(top.get("tokens"), "tokens")) {
            Map<String, Object> t = map(o, "a token entry");
            String id = string(t.get("id"), "a token's id");
            String where = "token '" + id + "'";
            onlyKeys(t, where, Set.of("id", "sha256", "expires", "publish", "subscribe", "admin"));
            if (!ids.add(id)) {
                throw new IllegalArgumentException("token id '" + id + "' appears twice");
            }
            String hex = string(t.get("sha256"), where + ": sha256").strip();
            if (hex.length() != 64) {
                throw new IllegalArgumentException(where + ": sha256 must be 64 hex digits, not " + hex.length());
            }
            byte[] hash;
            try {
                hash = HexFormat.of().parseHex(hex.toLowerCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": sha256 is not hexadecimal");
            }
            String other = idsByHash.putIfAbsent(HexFormat.of().formatHex(hash), id);
            if (other != null) {
                // One token would authenticate as whichever entry came first: refuse rather than guess.
                throw new IllegalArgumentException("tokens '" + other + "' and '" + id + "' have the same sha256: "
                        + "one token cannot be two principals");
            }
            Instant expires = null;
            if (t.get("expires") != null) {
                try {
                    expires = Instant.parse(t.get("expires").toString());
                } catch (DateTimeParseException e) {
                    throw new IllegalArgumentException(where + ": expires '" + t.get("expires")
                            + "' is not a UTC time like 2027-01-01T00:00:00Z");
                }
            }
            tokens.add(new Token(id, hash, expires, grants(t, where)));
        }
        var clients = new ArrayList<Client>();
        for (Object o : list(top.get("clients"), "clients")) {
            Map<String, Object> c = map(o, "a client entry");
            String name = string(c.get("name"), "a client's name");
            onlyKeys(c, "client '" + name + "'", Set.of("name", "publish", "subscribe", "admin"));
            clients.add(new Client(name, grants(c, "client '" + name + "'")));
        }
        Grants anonymous = null;
        if (top.containsKey("anonymous")) {
            Map<String, Object> a = top.get("anonymous") == null ? Map.of() : map(top.get("anonymous"), "anonymous");
            onlyKeys(a, "anonymous", Set.of("publish", "subscribe", "admin"));
            anonymous = grants(a, "anonymous");
        }
        return new AuthFile(List.copyOf(tokens), List.copyOf(clients), anonymous);
    }

    private static Grants grants(Map<String, Object> entry, String where) {
        var byAction = new EnumMap<Action, List<TopicPattern>>(Action.class);
        for (Action action : Action.values()) {
            var patterns = new ArrayList<TopicPattern>();
            for (Object p : list(entry.get(action.key()), where + ": " + action.key())) {
                try {
                    patterns.add(TopicPattern.parse(string(p, where + ": a " + action.key() + " pattern")));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ": " + e.getMessage());
                }
            }
            byAction.put(action, patterns);
        }
        return new Grants(byAction);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o, String what) {
        if (!(o instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(what + " must be a mapping");
        }
        for (Object k : m.keySet()) {
            if (!(k instanceof String)) {
                throw new IllegalArgumentException(what + " has a key that is not a string: " + k);
            }
        }
        return (Map<String, Object>) m;
    }

    private static List<?> list(Object o, String what) {
        if (o == null) {
            return List.of();
        }
        if (!(o instanceof List<?> l)) {
            throw new IllegalArgumentException(what + " must be a list");
        }
        return l;
    }

    private static String string(Object o, String what) {
        if (!(o instanceof String s) || s.isBlank()) {
            throw new IllegalArgumentException(what + " must be a non-empty string");
        }
        return s;
    }

    private static void onlyKeys(Map<String, Object> m, String where, Set<String> allowed) {
        for (String k : m.keySet()) {
            if (!allowed.contains(k)) {
                throw new IllegalArgumentException(where + ": unknown key '" + k + "' (allowed: "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }
}
