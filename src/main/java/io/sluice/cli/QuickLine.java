package io.sluice.cli;

import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

/**
 * The client commands' command lines read without picocli: picocli's classes are Java 5 bytecode,
 * which the JDK's ahead-of-time cache cannot keep, and reading them and the commands' annotations is
 * most of a short command's start-up. It fills the same command objects picocli would and runs them.
 *
 * <p>It only takes what it reads exactly as picocli does: the commands' own options (each once, but
 * {@code -a}), as {@code --name value} or {@code --name=value}, and their positional parameters. Anything
 * else (help, a usage error, {@code --}, an {@code @file}, a value starting with {@code -}, an empty
 * environment variable, a value picocli would convert differently) is left to picocli, which then
 * parses the whole line itself, prints its usage messages and answers its exit codes: the command line
 * behaves the same either way. Nothing has been done when it declines.
 */
final class QuickLine {
    private QuickLine() {
    }

    /** A parameter's setter: false when the value is not one it takes exactly as picocli would. */
    private interface Setter extends Predicate<String> {
    }

    /** One command's options and positional parameters, as its picocli annotations declare them. */
    private static final class Grammar {
        final Map<String, String> names = new HashMap<>();      // any name -> the option's first name
        final Map<String, Setter> valued = new HashMap<>();     // first name -> setter
        final Map<String, Runnable> flags = new HashMap<>();    // first name -> setter
        final Set<String> repeatable = new HashSet<>();
        final List<Setter> positionals = new ArrayList<>();
        Setter rest;                                             // takes every further positional
        int required;

        Grammar option(Setter setter, String... aliases) {
            for (String a : aliases) {
                names.put(a, aliases[0]);
            }
            valued.put(aliases[0], setter);
            return this;
        }

        Grammar flag(Runnable setter, String... aliases) {
            for (String a : aliases) {
                names.put(a, aliases[0]);
            }
            flags.put(aliases[0], setter);
            return this;
        }

        Grammar positional(Setter setter, boolean required) {
            positionals.add(setter);
            if (required) {
                this.required = positionals.size();
            }
            return this;
        }
    }

    /**
     * Runs the client command {@code args} name when it can read the line itself; answers its exit
     * code, or -1 when it left the line to picocli (it has then done nothing). {@code stdout} is the
     * stream beneath {@code out}, or null.
     */
    static int run(InputStream in, OutputStream stdout, PrintWriter out, PrintWriter err, String... args) {
        Callable<Integer> command = parse(in, args);
        if (command == null) {
            return -1;
        }
        ClientCommand c = (ClientCommand) command;
        c.stdout = stdout;
        c.out = out;
        c.err = err;
        try {
            return command.call();
        } catch (Exception e) {
            err.println("sluice: " + Failures.line(e, c));
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The command filled from {@code args}, or null when picocli should read them. */
    static Callable<Integer> parse(InputStream in, String... args) {
        if (args.length == 0) {
            return null;
        }
        var target = new TargetOption();
        if (!defaults(target)) {
            return null;
        }
        Grammar g = new Grammar();
        g.option(v -> set(() -> target.target = v), "--target")
                .option(v -> set(() -> target.token = v), "--token")
                .flag(() -> target.tls = true, "--tls")
                .option(v -> path(v, p -> target.tlsCa = p), "--tls-ca")
                .option(v -> path(v, p -> target.tlsCert = p), "--tls-cert")
                .option(v -> path(v, p -> target.tlsKey = p), "--tls-key");
        ClientCommand command;
        switch (args[0]) {
            case "topics" -> command = new TopicsCommand();
            case "publish" -> command = publish(g, in);
            case "subscribe" -> command = subscribe(g);
            case "stats" -> command = stats(g);
            case "delete-topic" -> {
                var c = new DeleteTopicCommand();
                g.positional(v -> set(() -> c.topic = v), true);
                command = c;
            }
            case "delete-group" -> {
                var c = new DeleteGroupCommand();
                g.positional(v -> set(() -> c.topic = v), true).positional(v -> set(() -> c.group = v), true);
                command = c;
            }
            case "reset-cursor" -> {
                var c = new ResetCursorCommand();
                g.positional(v -> set(() -> c.topic = v), true).positional(v -> set(() -> c.group = v), true)
                        .positional(v -> {
                            Long sequence = Sequences.parse(v);
                            if (sequence != null) {
                                c.sequence = sequence;
                            }
                            return sequence != null;
                        }, true);
                command = c;
            }
            default -> {
                return null;
            }
        }
        if (!read(g, args)) {
            return null;
        }
        command.target = target;
        if (command.problem() != null) {
            return null;   // picocli reports it as the usage error it is
        }
        @SuppressWarnings("unchecked")
        Callable<Integer> callable = (Callable<Integer>) command;
        return callable;
    }

    private static PublishCommand publish(Grammar g, InputStream in) {
        var c = new PublishCommand(in);
        g.positional(v -> set(() -> c.topic = v), true)
                .positional(v -> set(() -> c.payload = v), false)
                .option(v -> v.indexOf('=') >= 0 && c.attributePairs.add(v), "-a", "--attribute")
                .option(v -> path(v, p -> c.file = p), "--file")
                .option(v -> set(() -> c.batch = v), "--batch");
        g.repeatable.add("-a");
        return c;
    }

    private static SubscribeCommand subscribe(Grammar g) {
        var c = new SubscribeCommand();
        c.group = io.sluice.client.SubscriptionOptions.DEFAULT_GROUP;
        c.from = SubscribeCommand.StartAtConverter.parse("latest");
        c.credits = io.sluice.client.SubscriptionOptions.DEFAULT_CREDIT_WINDOW;
        c.reconnectFor = Durations.parse("10s");
        c.fromGiven = false;
        g.positional(v -> set(() -> c.topic = v), true)
                .option(v -> set(() -> c.group = v), "-g", "--group")
                .option(v -> {
                    c.from = SubscribeCommand.StartAtConverter.parse(v);
                    c.fromGiven = true;
                    return c.from != null;
                }, "--from")
                .option(v -> integer(v, n -> c.credits = n), "--credits")
                .flag(() -> c.ack = true, "--ack")
                .flag(() -> c.browse = true, "--browse")
                .option(v -> integer(v, n -> c.count = n), "-n", "--count")
                .flag(() -> c.json = true, "--json")
                .option(v -> (c.timeout = Durations.parse(v)) != null, "--timeout")
                .option(v -> (c.reconnectFor = Durations.parse(v)) != null, "--reconnect-for");
        return c;
    }

    private static StatsCommand stats(Grammar g) {
        var c = new StatsCommand();
        g.rest = v -> c.topics.add(v);
        return c;
    }

    /** The defaults picocli takes from the environment; false when one is set but empty or not a boolean. */
    private static boolean defaults(TargetOption t) {
        String target = System.getenv("SLUICE_TARGET");
        String token = System.getenv("SLUICE_TOKEN");
        String tls = System.getenv("SLUICE_TLS");
        String ca = System.getenv("SLUICE_TLS_CA");
        String cert = System.getenv("SLUICE_TLS_CLIENT_CERT");
        String key = System.getenv("SLUICE_TLS_CLIENT_KEY");
        for (String v : new String[] {target, token, tls, ca, cert, key}) {
            if (v != null && v.isEmpty()) {
                return false;
            }
        }
        if (tls != null && !tls.equalsIgnoreCase("true") && !tls.equalsIgnoreCase("false")) {
            return false;
        }
        t.target = target != null ? target : io.sluice.client.SluiceClient.DEFAULT_TARGET;
        t.token = token;
        t.tls = Boolean.parseBoolean(tls);
        return (ca == null || path(ca, p -> t.tlsCa = p)) && (cert == null || path(cert, p -> t.tlsCert = p))
                && (key == null || path(key, p -> t.tlsKey = p));
    }

    /** Reads {@code args} after the command's name into {@code g}'s setters; false to leave them to picocli. */
    private static boolean read(Grammar g, String[] args) {
        var seen = new HashSet<String>();
        int positional = 0;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.isEmpty() || a.charAt(0) == '@') {
                return false;   // picocli reads @FILE as more arguments
            }
            if (a.charAt(0) != '-') {
                Setter s = positional < g.positionals.size() ? g.positionals.get(positional) : g.rest;
                if (s == null || !s.test(a)) {
                    return false;
                }
                positional++;
                continue;
            }
            String name = a;
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            String first = g.names.get(name);
            if (first == null || !seen.add(first) && !g.repeatable.contains(first)) {
                return false;   // help, --version, --, an unknown option, a repeated one: picocli's to judge
            }
            Runnable flag = g.flags.get(first);
            if (flag != null) {
                if (value != null) {
                    return false;
                }
                flag.run();
                continue;
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    return false;
                }
                value = args[++i];
            }
            if (value.isEmpty() || value.charAt(0) == '-' && !value.equals("-") || value.charAt(0) == '@'
                    || !g.valued.get(first).test(value)) {
                return false;
            }
        }
        return positional >= g.required;
    }

    private static boolean set(Runnable assignment) {
        assignment.run();
        return true;
    }

    private static boolean path(String value, java.util.function.Consumer<Path> to) {
        try {
            to.accept(Path.of(value));
            return true;
        } catch (InvalidPathException e) {
            return false;
        }
    }

    private static boolean integer(String value, java.util.function.IntConsumer to) {
        try {
            to.accept(Integer.valueOf(value));
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
