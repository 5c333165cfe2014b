package io.sluice.cli;

import io.grpc.Status;
import io.sluice.client.SluiceClientException;

/**
 * The one line a failed command prints after {@code sluice: }: the exception's message, and for the
 * transport failures that come from pointing a client at the wrong port or with the wrong TLS setting,
 * what the transport's words mean and what to change. The status code stays first and the exit code
 * stays 1; only the words change.
 */
final class Failures {
    private static final String NOT_HTTP2 = "First received frame was not SETTINGS";
    private static final String PIPELINE = "io exception Channel Pipeline: \\[[^\\]]*\\] ";

    private Failures() {
    }

    /** The line for {@code e}, thrown by {@code command} (any object; hints need a client command's target). */
    static String line(Throwable e, Object command) {
        String line = Main.oneLine(e);
        if (!(e instanceof SluiceClientException failure) || !(command instanceof ClientCommand c)
                || c.target == null) {
            return line;
        }
        TargetOption t = c.target;
        if (failure.code() == Status.Code.INTERNAL && line.contains(NOT_HTTP2)) {
            return "INTERNAL: " + t.target + " does not speak gRPC (is it the broker's metrics port? --target takes "
                    + "the port its banner names after 'serving gRPC on'); " + line.substring("INTERNAL: ".length());
        }
        if (failure.code() != Status.Code.UNAVAILABLE) {
            return line;
        }
        if (t.usesTls() && line.contains("not an SSL/TLS record")) {
            return line.replaceFirst(PIPELINE, "").replaceFirst("\\(not an SSL/TLS record: [0-9a-fA-F]*\\)",
                    "not an SSL/TLS record") + ": it does not speak TLS on that port; drop --tls and --tls-ca "
                    + "(SLUICE_TLS, SLUICE_TLS_CA), or start the broker with --tls-cert and --tls-key";
        }
        if (t.usesTls() && line.contains("unable to find valid certification path")) {
            return line.replaceFirst(PIPELINE, "") + ": the broker's certificate is not signed by "
                    + (t.tlsCa != null ? "the authority in " + t.tlsCa : "an authority this system trusts; give its "
                    + "authority's certificate with --tls-ca FILE (SLUICE_TLS_CA)");
        }
        if (t.usesTls() && line.contains("CERTIFICATE_REQUIRED")) {
            return line.replaceFirst(PIPELINE, "") + ": the broker requires a client certificate; give yours with "
                    + "--tls-cert FILE and --tls-key FILE (SLUICE_TLS_CLIENT_CERT, SLUICE_TLS_CLIENT_KEY)";
        }
        if (t.usesTls() && line.contains("handshake timed out")) {
            return line.replaceFirst(PIPELINE, "") + ": " + t.target + " did not answer the TLS handshake (is it the "
                    + "broker's metrics port, or a port without TLS? --target takes the port its banner names after "
                    + "'serving gRPC on')";
        }
        if (!t.usesTls() && (line.contains("Network closed for unknown reason") || line.contains("Connection reset"))) {
            return line + "; the broker at " + t.target + " closed the connection: if it serves TLS, add --tls "
                    + "(and --tls-ca FILE when its certificate is not from an authority this system trusts)";
        }
        return line;
    }
}
