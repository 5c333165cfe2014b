package io.sluice.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.sluice.client.ClientOptions;
import io.sluice.client.SluiceClient;
import io.sluice.client.SluiceClientException;
import io.sluice.server.TestBroker;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the real broker with certificates made by openssl: plaintext clients fail cleanly, tokens
 * ride over TLS, client certificates name principals, and a certificate and a token rotated under
 * load (file change and reload request) fail no call on an established connection.
 */
class TlsTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String TOKEN = Tokens.generate();
    private static final String TOKEN2 = Tokens.generate();

    @TempDir
    static Path pkiDir;
    private static Pki pki;
    private static Pki.Issued server;
    private static Pki.Issued server2;
    private static Pki.Issued billing;
    private static Pki.Issued stranger;

    @TempDir
    Path dir;
    private TestBroker broker;
    private final List<SluiceClient> clients = new ArrayList<>();

    @BeforeAll
    static void makeCertificates() throws Exception {
        pki = Pki.create(pkiDir, "test");
        server = pki.server("server");
        server2 = pki.server("server2");
        billing = pki.client("billing", "billing");
        stranger = Pki.create(pkiDir, "other").client("stranger", "billing");
    }

    @AfterEach
    void stop() throws InterruptedException {
        clients.forEach(SluiceClient::close);
        if (broker != null) {
            broker.close();
        }
    }

    private Path authFile(String... tokens) throws IOException {
        var yaml = new StringBuilder("tokens:\n");
        for (int i = 0; i < tokens.length; i++) {
            yaml.append("  - id: t").append(i + 1).append("\n    sha256: ").append(Tokens.sha256Hex(tokens[i]))
                    .append("\n    publish: ['>']\n    subscribe: ['>']\n");
        }
        yaml.append("clients:\n  - name: billing\n    subscribe: ['orders.>']\n");
        Path file = dir.resolve("auth.yaml");
        Files.writeString(file.resolveSibling("auth.tmp"), yaml);
        Files.move(file.resolveSibling("auth.tmp"), file, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    /** The broker's certificate and key, copied so a test can replace them. */
    private SecurityConfig tls(SecurityConfig.ClientAuth clientAuth) throws IOException {
        Path cert = dir.resolve("tls.pem");
        Path key = dir.resolve("tls.key");
        Files.copy(server.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(server.key(), key, StandardCopyOption.REPLACE_EXISTING);
        return SecurityConfig.none().withTls(cert, key, clientAuth == null ? null : pki.ca(), clientAuth)
                .withAuth(authFile(TOKEN), dir.resolve("audit.log")).withReloadInterval(Duration.ofMillis(200));
    }

    private SluiceClient client(ClientOptions options) {
        var c = SluiceClient.connect("127.0.0.1:" + broker.port(), options.callTimeout(WAIT));
        clients.add(c);
        return c;
    }

    @Test
    void aCertificateFileWithoutACertificateIsNamedWhenTheClientIsMade() throws IOException {
        Path notPem = Files.writeString(dir.resolve("ca.txt"), "hello\n");
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SluiceClient.connect("127.0.0.1:1", ClientOptions.defaults().tls(notPem)));
        assertTrue(e.getMessage().contains(notPem + " is not a certificate authority in PEM"), e.getMessage());
        var asKey = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SluiceClient.connect("127.0.0.1:1",
                        ClientOptions.defaults().clientCertificate(billing.key(), billing.key())));
        assertTrue(asKey.getMessage().contains(billing.key() + " is not a client certificate in PEM"),
                asKey.getMessage());
    }

    @Test
    void aPlaintextClientAgainstTheTlsPortFailsCleanly() throws IOException {
        broker = TestBroker.start(dir.resolve("data"), tls(null));
        var plain = client(ClientOptions.defaults().token(TOKEN));
        var e = org.junit.jupiter.api.Assertions.assertThrows(SluiceClientException.class,
                () -> plain.publish("orders.eu", new byte[] {1}));
        assertEquals(Status.Code.UNAVAILABLE, e.code(), e.toString());
        var secure = client(ClientOptions.defaults().tls(pki.ca()).token(TOKEN));
        assertTrue(secure.publish("orders.eu", new byte[] {1}).sequence() > 0);
        var noToken = client(ClientOptions.defaults().tls(pki.ca()));
        assertEquals(Status.Code.UNAUTHENTICATED, org.junit.jupiter.api.Assertions.assertThrows(
                SluiceClientException.class, noToken::topics).code());
    }

    @Test
    void aClientCertificateNamesThePrincipal() throws Exception {
        broker = TestBroker.start(dir.resolve("data"), tls(SecurityConfig.ClientAuth.OPTIONAL));
        client(ClientOptions.defaults().tls(pki.ca()).token(TOKEN)).publish("orders.eu", new byte[] {1});
        client(ClientOptions.defaults().tls(pki.ca()).token(TOKEN)).publish("billing.x", new byte[] {1});
        var asBilling = client(ClientOptions.defaults().tls(pki.ca()).clientCertificate(billing.cert(), billing.key()));
        assertEquals(List.of("orders.eu"), asBilling.topics().stream().map(t -> t.name()).toList());
        assertEquals(Status.Code.PERMISSION_DENIED, org.junit.jupiter.api.Assertions.assertThrows(
                SluiceClientException.class, () -> asBilling.publish("orders.eu", new byte[] {1})).code());
        String audit = Files.readString(dir.resolve("audit.log"));
        assertTrue(audit.contains(
                "\"principal\":\"billing\",\"credential\":\"certificate\",\"credential_id\":\"serial:"),
                audit);
        var untrusted = client(ClientOptions.defaults().tls(pki.ca())
                .clientCertificate(stranger.cert(), stranger.key()));
        // Its client offers no certificate the broker's CA did not issue: the call has no credentials.
        assertEquals(Status.Code.UNAUTHENTICATED, org.junit.jupiter.api.Assertions.assertThrows(
                SluiceClientException.class, untrusted::topics).code());
    }

    @Test
    void aCertificateMatchingNoClientIsUnauthenticatedEvenWhereAnonymousCallersAreLetIn() throws Exception {
        SecurityConfig config = tls(SecurityConfig.ClientAuth.OPTIONAL);
        Files.writeString(config.authFile(), Files.readString(config.authFile())
                + "anonymous:\n  subscribe: ['public.>']\n");
        broker = TestBroker.start(dir.resolve("data"), config);
        Pki.Issued nobody = pki.client("nobody", "nobody");
        var asNobody = client(ClientOptions.defaults().tls(pki.ca()).clientCertificate(nobody.cert(), nobody.key()));
        var refused = org.junit.jupiter.api.Assertions.assertThrows(SluiceClientException.class, asNobody::topics);
        assertEquals(Status.Code.UNAUTHENTICATED, refused.code(), refused.toString());
        assertTrue(refused.getMessage().contains("matches no client"), refused.getMessage());
        String audit = Files.readString(dir.resolve("audit.log"));
        assertTrue(audit.contains("\"credential\":\"certificate\",\"credential_id\":\"serial:"), audit);
        var anonymous = client(ClientOptions.defaults().tls(pki.ca()));
        assertEquals(List.of(), anonymous.topics(), "no credentials at all: anonymous");
    }

    @Test
    void requiredClientCertificatesRefuseAConnectionWithout() throws IOException {
        broker = TestBroker.start(dir.resolve("data"), tls(SecurityConfig.ClientAuth.REQUIRE));
        var without = client(ClientOptions.defaults().tls(pki.ca()).token(TOKEN));
        assertEquals(Status.Code.UNAVAILABLE, org.junit.jupiter.api.Assertions.assertThrows(
                SluiceClientException.class, without::topics).code());
        var with = client(ClientOptions.defaults().tls(pki.ca()).clientCertificate(billing.cert(), billing.key()));
        assertEquals(List.of(), with.topics());
    }

    @Test
    void aCertificateAndATokenRotatedUnderLoadFailNoCallOnAnEstablishedConnection() throws Exception {
        SecurityConfig config = tls(null);
        broker = TestBroker.start(dir.resolve("data"), config);
        Security security = broker.server().security();
        BigInteger first = security.certificate().getSerialNumber();
        assertEquals(first, servedSerial());

        var established = client(ClientOptions.defaults().tls(pki.ca()).token(TOKEN));
        var published = new Semaphore(0);
        var failure = new AtomicReference<Throwable>();
        var stop = new AtomicBoolean();
        var count = new AtomicLong();
        Thread load = Thread.ofVirtual().name("rotation-load").start(() -> {
            while (!stop.get() && count.get() < 1_000_000) {
                try {
                    established.publish("orders.eu", new byte[] {1});
                    count.incrementAndGet();
                    published.release();
                } catch (RuntimeException e) {
                    failure.compareAndSet(null, e);
                    published.release(1000);
                    return;
                }
            }
        });
        assertTrue(published.tryAcquire(20, WAIT.toSeconds(), TimeUnit.SECONDS), "the load runs");

        // The certificate, by a change of its files (key first: a pair that does not match is refused
        // until the certificate follows).
        long loads = security.loads();
        Files.copy(server2.key(), config.tlsKey(), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(server2.cert(), config.tlsCert(), StandardCopyOption.REPLACE_EXISTING);
        assertTrue(security.awaitLoads(loads + 1, WAIT), "the new certificate is loaded");
        BigInteger second = security.certificate().getSerialNumber();
        assertNotEquals(first, second);
        assertEquals(second, servedSerial(), "a new connection gets the new certificate");
        assertTrue(published.tryAcquire(20, WAIT.toSeconds(), TimeUnit.SECONDS), "the load goes on");

        // A second token, by a reload request (what SIGHUP does).
        authFile(TOKEN, TOKEN2);
        assertTrue(security.reloadAndWait(WAIT));
        client(ClientOptions.defaults().tls(pki.ca()).token(TOKEN2)).publish("orders.eu", new byte[] {2});
        assertTrue(published.tryAcquire(20, WAIT.toSeconds(), TimeUnit.SECONDS), "the load goes on");

        // A broken certificate is refused; the one in use stays.
        Files.writeString(config.tlsCert(),
                "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
        assertTrue(security.reloadAndWait(WAIT));
        assertEquals(second, servedSerial());

        stop.set(true);
        load.join(WAIT.toMillis());
        assertEquals(null, failure.get(), "a call on the established connection failed");
        assertTrue(count.get() >= 60);
    }

    /** The serial of the certificate a new TLS connection to the broker is served. */
    private BigInteger servedSerial() throws Exception {
        var trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (var in = Files.newInputStream(pki.ca())) {
            trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        var context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        try (var socket = (SSLSocket) context.getSocketFactory().createSocket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", broker.port()), (int) WAIT.toMillis());
            socket.setSoTimeout((int) WAIT.toMillis());
            var params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"h2"});
            socket.setSSLParameters(params);
            socket.startHandshake();
            socket.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }
}
