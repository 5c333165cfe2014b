package io.sluice.cli;

import io.sluice.client.ClientOptions;
import io.sluice.client.SluiceClient;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options every client command takes: where the broker is, and TLS and a token to reach it with. */
final class TargetOption {
    @Option(names = "--target", defaultValue = "${env:SLUICE_TARGET:-" + SluiceClient.DEFAULT_TARGET + "}",
            paramLabel = "HOST:PORT",
            description = "The broker to talk to (env SLUICE_TARGET, default ${DEFAULT-VALUE}).")
    String target;

    @Option(names = "--token", defaultValue = "${env:SLUICE_TOKEN}", paramLabel = "TOKEN",
            description = "Bearer token sent with every call (env SLUICE_TOKEN; prefer the variable: "
                    + "a flag shows in the process list).")
    String token;

    @Option(names = "--tls", description = "Use TLS, trusting the system's authorities unless --tls-ca is given "
            + "(env SLUICE_TLS=true).", defaultValue = "${env:SLUICE_TLS:-false}")
    boolean tls;

    @Option(names = "--tls-ca", defaultValue = "${env:SLUICE_TLS_CA}", paramLabel = "FILE",
            description = "PEM authorities the broker's certificate is checked against; implies --tls "
                    + "(env SLUICE_TLS_CA).")
    Path tlsCa;

    @Option(names = "--tls-cert", defaultValue = "${env:SLUICE_TLS_CLIENT_CERT}", paramLabel = "FILE",
            description = "Client certificate (PEM) for mutual TLS; implies --tls (env SLUICE_TLS_CLIENT_CERT).")
    Path tlsCert;

    @Option(names = "--tls-key", defaultValue = "${env:SLUICE_TLS_CLIENT_KEY}", paramLabel = "FILE",
            description = "Unencrypted PKCS#8 PEM key of --tls-cert (env SLUICE_TLS_CLIENT_KEY).")
    Path tlsKey;

    /** True when the client talks TLS: --tls, or a file that implies it. */
    boolean usesTls() {
        return tls || tlsCa != null || tlsCert != null;
    }

    SluiceClient connect() {
        var options = ClientOptions.defaults().token(token);
        if (usesTls()) {
            options = options.tls(tlsCa);
        }
        if (tlsCert != null || tlsKey != null) {
            if (tlsCert == null || tlsKey == null) {
                throw new IllegalArgumentException("--tls-cert and --tls-key go together");
            }
            options = options.clientCertificate(tlsCert, tlsKey);
        }
        // One publish per command: a unary call, which fails at once when the broker cannot be reached
        // (a pipelined publish would wait for it, up to the call timeout).
        return SluiceClient.connect(target, options, io.sluice.client.PublishOptions.defaults().withUnary());
    }
}
