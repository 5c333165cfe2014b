package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientOptions;
import io.sluice.client.SluiceClient;
import io.sluice.server.TestBroker;
import io.sluice.server.security.SecurityConfig;
import io.sluice.server.security.Tokens;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** subscribe's notices on stderr never claim what the broker has not done: a refused stream creates nothing. */
class SubscribeNoticeTest {
    @TempDir
    Path dir;

    @Test
    void aTopicHiddenByTheGrantsIsNotSaidToBeCreated() throws Exception {
        String writer = Tokens.generate();
        String outsider = Tokens.generate();
        Path auth = Files.writeString(dir.resolve("auth.yaml"), "tokens:\n"
                + Tokens.authFileEntry("writer", writer).replace("publish: []", "publish: [\">\"]")
                + Tokens.authFileEntry("outsider", outsider).replace("subscribe: []", "subscribe: [\"other\"]"));
        try (TestBroker broker = TestBroker.start(dir.resolve("data"), SecurityConfig.none().withAuth(auth, null))) {
            String target = "127.0.0.1:" + broker.port();
            try (var client = SluiceClient.connect(target, ClientOptions.defaults().token(writer))) {
                client.publish("secret", "x".getBytes(StandardCharsets.UTF_8));
            }
            Cli.Run r = Cli.bare(new ByteArrayInputStream(new byte[0]), "subscribe", "secret", "--count", "1",
                    "--target", target, "--token", outsider);
            assertEquals(1, r.exit(), r.err());
            List<String> lines = r.err().lines().toList();
            assertEquals(2, lines.size(), r.err());
            assertFalse(lines.getFirst().contains("it is created now"), r.err());
            assertTrue(lines.getFirst().contains("does not exist yet, or these credentials may not see it; if the "
                    + "broker accepts the subscription, it creates the topic"), r.err());
            assertTrue(lines.get(1).startsWith("sluice: PERMISSION_DENIED: "), r.err());
        }
    }
}
