package io.sluice.bench;

import io.sluice.proto.PublishRequest;
import io.sluice.server.security.Pki;
import io.sluice.server.security.Tokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Scenario 8: what TLS and a bearer token cost. Unary Publish (64 publishers, 100 B) and one
 * PublishStream (window 1,024) run first on the scenario's plaintext broker, then on a second broker
 * started with {@code --tls-cert}, {@code --tls-key} and {@code --auth-file} (certificates made with
 * openssl, as docs/security.md tells), through TLS channels sending the token on every call. Each
 * TLS row notes its ratio to the plaintext row of the same run (the target: at least 0.7).
 */
final class SecurityScenario {
    private static final int PUBLISHERS = 64;
    private static final int WINDOW = 1024;

    private SecurityScenario() {
    }

    static void run(Session plain, Path logDir, String label) throws IOException, InterruptedException {
        List<Row> plainRows = measure(plain, "plaintext");
        if (plain.options().target() != null) {
            plain.done(Row.without(10, "TLS rows", "need a broker the bench starts itself, not a --target"));
            return;
        }
        Path dir = Files.createTempDirectory(plain.options().dataRoot(), label + "-pki-");
        try {
            Pki pki = Pki.create(dir, "bench");
            Pki.Issued server = pki.server("server");
            String token = Tokens.generate();
            Path auth = dir.resolve("auth.yaml");
            Files.writeString(auth, "tokens:\n  - id: bench\n    sha256: " + Tokens.sha256Hex(token)
                    + "\n    publish: ['>']\n    subscribe: ['>']\n    admin: ['>']\n");
            var tls = new Clients.Tls(pki.ca(), token);
            var options = plain.options().withMoreBrokerArgs(List.of("--tls-cert", server.cert().toString(),
                    "--tls-key", server.key().toString(), "--auth-file", auth.toString()));
            BrokerProcess broker = BrokerProcess.start(options, label + "-tls", logDir, tls);
            try (var clients = new Clients(BrokerProcess.HOST, broker.port(), options.channels(), tls);
                 var probe = new Probe(broker.metricsUrl(), broker.handle(), broker.jcmd())) {
                var secure = new Session(options, clients, probe, plain.prefix() + "tls.", row -> row,
                        BrokerProcess.HOST + ":" + broker.port());
                String warm = BrokerWarmup.run(secure);
                if (warm != null) {
                    plain.done(Row.without(10, "TLS rows", "the TLS broker's warm-up did not complete: " + warm));
                    return;
                }
                List<Row> tlsRows = measure(secure, "TLS + token");
                for (int i = 0; i < tlsRows.size(); i++) {
                    Row t = tlsRows.get(i);
                    Row p = plainRows.get(i);
                    plain.done(t.perSecond() == null || p.perSecond() == null ? t
                            : t.withNote(String.format(Locale.ROOT, "%.2f of the plaintext row's msg/s", t.perSecond()
                                    / p.perSecond())));
                }
            } finally {
                broker.stop();
            }
        } finally {
            deleteTree(dir);
        }
    }

    /** The two rows on one broker; the plaintext ones go to the report at once. */
    private static List<Row> measure(Session s, String kind) {
        var rows = new ArrayList<Row>();
        var request = PublishRequest.newBuilder().setTopic(s.topic("s10.publish"))
                .setPayload(PublishScenarios.payload(100)).build();
        Measured m = ClosedLoop.run(s, PUBLISHERS,
                (w, done) -> s.clients().stub(w).publish(request, new Answer<>(done, 1)));
        rows.add(Row.of(10, "Publish 100 B, " + PUBLISHERS + " publishers, " + kind, m));
        Row stream = StreamScenario.measureOne(s, s.topic("s10.stream"), WINDOW,
                "PublishStream 100 B, window " + WINDOW + ", " + kind);
        rows.add(new Row(10, stream.name(), stream.perSecond(), stream.messages(), stream.seconds(), stream.latency(),
                stream.errors(), stream.resources(), stream.notes()));
        if (kind.equals("plaintext")) {
            rows.forEach(s::done);
        }
        return rows;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
