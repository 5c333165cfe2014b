package io.sluice.cli;

import io.sluice.client.SluiceClient;
import picocli.CommandLine.Option;

/** The {@code --target} option every client command takes. */
final class TargetOption {
    @Option(names = "--target", defaultValue = "${env:SLUICE_TARGET:-" + SluiceClient.DEFAULT_TARGET + "}",
            paramLabel = "HOST:PORT",
            description = "The broker to talk to (env SLUICE_TARGET, default ${DEFAULT-VALUE}).")
    String target;

    SluiceClient connect() {
        return SluiceClient.connect(target);
    }
}
