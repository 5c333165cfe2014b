package io.sluice.server.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real certificates for tests, made with the openssl command line exactly as docs/security.md tells
 * an operator to: a CA, then server and client certificates it signs (EC P-256, two days).
 */
public final class Pki {
    /** A certificate and its key, both PEM files. */
    public record Issued(Path cert, Path key) {
    }

    private final Path dir;
    private final Path caCert;
    private final Path caKey;

    private Pki(Path dir, Path caCert, Path caKey) {
        this.dir = dir;
        this.caCert = caCert;
        this.caKey = caKey;
    }

    /** A new CA in {@code dir}. */
    public static Pki create(Path directory, String name) throws IOException, InterruptedException {
        Path dir = directory.toAbsolutePath();
        Path cert = dir.resolve(name + "-ca.pem");
        Path key = dir.resolve(name + "-ca.key");
        openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=" + name + "-ca");
        return new Pki(dir, cert, key);
    }

    public Path ca() {
        return caCert;
    }

    /** A server certificate for localhost and 127.0.0.1. */
    public Issued server(String name) throws IOException, InterruptedException {
        return issue(name, "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    }

    /** A client certificate whose subject CN is {@code cn}. */
    public Issued client(String name, String cn) throws IOException, InterruptedException {
        return issue(name, cn, "extendedKeyUsage=clientAuth\n");
    }

    private Issued issue(String name, String cn, String extensions) throws IOException, InterruptedException {
        Path key = dir.resolve(name + ".key");
        Path csr = dir.resolve(name + ".csr");
        Path cert = dir.resolve(name + ".pem");
        Path ext = dir.resolve(name + ".ext");
        Files.writeString(ext, extensions);
        openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.toString(),
                "-out", csr.toString(), "-subj", "/CN=" + cn);
        openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey", caKey.toString(),
                "-CAcreateserial", "-out", cert.toString(), "-days", "2", "-extfile", ext.toString());
        return new Issued(cert, key);
    }

    private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        var command = new ArrayList<String>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] output = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("`" + String.join(" ", command) + "` failed: "
                    + new String(output, StandardCharsets.UTF_8));
        }
    }
}
