package io.sluice.cli;

import io.sluice.server.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sluice} command: {@code serve} runs the broker. */
@Command(name = "sluice", mixinStandardHelpOptions = true, versionProvider = Main.VersionProvider.class,
        description = "Sluice, a durable gRPC message broker: acknowledged means on disk.",
        subcommands = {ServeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and answers its exit code. */
    public static int run(String... args) {
        return new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("sluice: " + oneLine(e));
                    return 1;
                })
                .execute(args);
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        return (m == null || m.isBlank() ? e.toString() : m).replace('\n', ' ');
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sluice " + Version.get()};
        }
    }
}
