package io.sluice.cli;

import io.sluice.server.Version;
import io.sluice.telemetry.Logging;
import java.io.BufferedWriter;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code sluice} command: {@code serve} runs the broker; the other subcommands are clients of a
 * running broker ({@code --target HOST:PORT}, env {@code SLUICE_TARGET}). Exit codes: 0 on success,
 * 1 when a command fails (one line on stderr, {@code sluice: <problem>}), 2 on a usage error.
 */
@Command(name = "sluice", mixinStandardHelpOptions = true, versionProvider = Main.VersionProvider.class,
        description = "Sluice, a durable gRPC message broker: acknowledged means on disk.")
public final class Main implements Runnable {

    /**
     * The subcommands, in the order usage lists them. Only the one being run is registered with
     * picocli (all of them for usage and help): reading each command's annotations is a good part of
     * a client command's start-up time.
     */
    private static final Map<String, Class<?>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("serve", ServeCommand.class);
        COMMANDS.put("publish", PublishCommand.class);
        COMMANDS.put("subscribe", SubscribeCommand.class);
        COMMANDS.put("topics", TopicsCommand.class);
        COMMANDS.put("stats", StatsCommand.class);
        COMMANDS.put("delete-topic", DeleteTopicCommand.class);
        COMMANDS.put("delete-group", DeleteGroupCommand.class);
        COMMANDS.put("reset-cursor", ResetCursorCommand.class);
        COMMANDS.put("topic", TopicCommand.class);
        COMMANDS.put("group", GroupCommand.class);
        COMMANDS.put("token", TokenCommand.class);
        COMMANDS.put("help", CommandLine.HelpCommand.class);
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // A client command reports its failure in one line; gRPC's own warnings (with stacks) would bury it.
        // serve configures logging from its --log-level.
        Logging.configure("error");
        System.exit(run(args));
    }

    /** Runs the command line and answers its exit code. */
    public static int run(String... args) {
        int quick = QuickLine.run(System.in, System.out, stdWriter(System.out, "sun.stdout.encoding"),
                stdWriter(System.err, "sun.stderr.encoding"), args);
        return quick >= 0 ? quick : commandLine(System.in, System.out, args).execute(args);
    }

    /**
     * Runs the command line reading {@code in} and writing to {@code out} and {@code err}; answers its exit code.
     * A client command's line is read by {@link QuickLine} when it can, else (and always for help, usage errors
     * and {@code serve}) by picocli.
     */
    public static int run(InputStream in, PrintWriter out, PrintWriter err, String... args) {
        return run(in, null, out, err, args);
    }

    /**
     * Like {@link #run(InputStream, PrintWriter, PrintWriter, String...)}, writing to {@code out} as bytes:
     * text in UTF-8, and payloads byte for byte.
     */
    public static int run(InputStream in, OutputStream out, PrintWriter err, String... args) {
        return run(in, out, new PrintWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8)), err, args);
    }

    /** {@code stdout}: the stream beneath {@code out}, where payloads go as they are; null when there is none. */
    private static int run(InputStream in, OutputStream stdout, PrintWriter out, PrintWriter err, String... args) {
        try {
            int quick = QuickLine.run(in, stdout, out, err, args);
            return quick >= 0 ? quick : commandLine(in, stdout, args).setOut(out).setErr(err).execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** A writer on a standard stream, with the charset picocli would give it (its system property, else the default). */
    private static PrintWriter stdWriter(OutputStream stream, String encodingProperty) {
        String name = System.getProperty(encodingProperty);
        Charset charset = Charset.defaultCharset();
        if (name != null) {
            try {
                charset = Charset.forName(name.equalsIgnoreCase("cp65001") ? "UTF-8" : name);
            } catch (IllegalArgumentException e) {
                // picocli falls back to the default too
            }
        }
        return new PrintWriter(new BufferedWriter(new OutputStreamWriter(stream, charset)), true);
    }

    static CommandLine commandLine(InputStream in, OutputStream stdout, String... args) {
        CommandLine.IFactory defaults = CommandLine.defaultFactory();
        CommandLine.IFactory factory = new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> type) throws Exception {
                K made = type == PublishCommand.class ? type.cast(new PublishCommand(in)) : defaults.create(type);
                if (made instanceof ClientCommand c) {
                    c.stdout = stdout;
                }
                return made;
            }
        };
        var cl = new CommandLine(new Main(), factory);
        Class<?> only = args.length > 0 && !args[0].equals("help") ? COMMANDS.get(args[0]) : null;
        if (only != null) {
            cl.addSubcommand(args[0], only);
        } else {
            COMMANDS.forEach(cl::addSubcommand);
        }
        return cl.setCaseInsensitiveEnumValuesAllowed(true)
                .setParameterExceptionHandler(Main::usageError)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("sluice: " + Failures.line(e, cmd.getCommand()));
                    return 1;
                });
    }

    /**
     * A usage error: picocli's message and the command's usage, except for a bad value that came from an
     * environment variable, which is named (the flag was not typed, so the usage would not point at it).
     */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        PrintWriter err = cmd.getErr();
        CommandLine.Model.OptionSpec option = e.getArgSpec() instanceof CommandLine.Model.OptionSpec o ? o : null;
        if (option == null) {   // a check of the command's own: its message starts with the option's name
            option = cmd.getCommandSpec().options().stream()
                    .filter(o -> e.getMessage().startsWith(o.longestName() + " ")).findFirst().orElse(null);
        }
        String variable = option != null ? environmentSource(option, args) : null;
        if (variable != null) {
            String message = e.getMessage().replaceFirst("^Invalid value for option '([^']+)'", "Invalid value for $1");
            err.println("sluice: " + message
                    + (message.contains(variable) ? "" : " (from the environment variable " + variable + ")"));
            err.println("See '" + cmd.getCommandSpec().qualifiedName() + " --help'.");
        } else {
            err.println(e.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, err)) {
                cmd.usage(err);
            }
        }
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /**
     * The environment variable {@code option}'s value came from: null when it was typed on the command line, or
     * its default names none ({@code ${env:NAME...}} in its annotation; picocli answers the value it stands for).
     */
    private static String environmentSource(CommandLine.Model.OptionSpec option, String[] args) {
        if (!(option.userObject() instanceof Field field) || field.getAnnotation(Option.class) == null) {
            return null;
        }
        String given = field.getAnnotation(Option.class).defaultValue();
        if (!given.startsWith("${env:")) {
            return null;
        }
        for (String arg : args) {
            for (String name : option.names()) {
                if (arg.equals(name) || arg.startsWith(name + "=")) {
                    return null;
                }
            }
        }
        String rest = given.substring("${env:".length());
        int end = rest.indexOf(':');
        String variable = rest.substring(0, end >= 0 ? end : rest.indexOf('}'));
        return System.getenv(variable) != null ? variable : null;
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        return (m == null || m.isBlank() ? e.toString() : m).replace('\n', ' ');
    }

    /** {@code sluice} alone: a usage error, so a script that forgot its command does not carry on as if it ran. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing command: sluice COMMAND (see below)");
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sluice " + Version.get()};
        }
    }
}
