package io.sluice.cli;

import io.sluice.server.security.Tokens;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sluice token new <id>}: a fresh bearer token and the auth file entry holding its hash. */
@Command(name = "token", mixinStandardHelpOptions = true, description = "Make bearer tokens for the auth file.",
        subcommands = TokenCommand.New.class)
final class TokenCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: new");
    }

    @Command(name = "new", mixinStandardHelpOptions = true,
            description = "Print a fresh token (give it to the client, once) and the entry to paste under "
                    + "'tokens:' in the auth file (it holds only the token's SHA-256).")
    static final class New implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "ID", description = "The principal's name, used in the audit log.")
        String id;

        @Override
        public Integer call() {
            String token = Tokens.generate();
            String entry;
            try {
                entry = Tokens.authFileEntry(id, token);   // checks the id: nothing is printed for a bad one
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            var out = spec.commandLine().getOut();
            out.println("token: " + token);
            out.println();
            out.println("# paste under 'tokens:' in the auth file, then grant what this principal may do:");
            out.print(entry);
            out.flush();
            return 0;
        }
    }
}
