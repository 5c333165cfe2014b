package io.sluice.cli;

import io.sluice.client.ClientOptions;
import io.sluice.client.SluiceClient;
import java.io.OutputStream;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/**
 * A command that talks to a running broker. picocli fills its fields and its writers come from
 * picocli's command line; {@link QuickLine} fills the same fields itself, without picocli, and sets
 * the writers. Either way the command runs the same code and prints the same.
 */
abstract class ClientCommand {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    TargetOption target;

    PrintWriter out;   // set by QuickLine; else picocli's
    PrintWriter err;   // set by QuickLine; else picocli's
    /** The stream beneath out(), where payloads are written byte for byte; null when out() has none. */
    OutputStream stdout;

    PrintWriter out() {
        return out != null ? out : spec.commandLine().getOut();
    }

    PrintWriter err() {
        return err != null ? err : spec.commandLine().getErr();
    }

    /**
     * What is wrong with the arguments as a whole (a usage error, exit 2), or null; checked before
     * anything is sent. QuickLine leaves a line with a problem to picocli, which reports it as such.
     */
    String usageProblem() {
        return null;
    }

    /** The target's problem (a usage error too), else {@link #usageProblem}. */
    final String problem() {
        String bad = targetProblem();
        return bad != null ? bad : usageProblem();
    }

    private String targetProblem() {
        String bad = SluiceClient.targetProblem(target.target);
        if (bad != null) {
            return "--target (env SLUICE_TARGET): " + bad;
        }
        bad = ClientOptions.tokenProblem(target.token);
        return bad == null ? null : "--token (env SLUICE_TOKEN): " + bad;
    }

    /** A client of the target; a malformed target is a usage error (exit 2), as picocli reports it. */
    SluiceClient connect() {
        String bad = targetProblem();
        if (bad != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), bad);
        }
        return target.connect();
    }

    /** A group's name as the broker knows it: the empty name is the group {@code default} (SPEC §3). */
    static String shown(String group) {
        return group.isEmpty() ? "default" : group;
    }

    /** The problem with {@code value} of {@code name} when it is negative (the broker takes them unsigned), or null. */
    static String negative(String name, long value) {
        return value < 0 ? name + " must be 0 or more, not " + value : null;
    }
}
