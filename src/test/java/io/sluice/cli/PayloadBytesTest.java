package io.sluice.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import org.junit.jupiter.api.Test;

/** Payloads go through publish and subscribe byte for byte; --json never loses a byte. */
class PayloadBytesTest extends CliCase {
    @Test
    void subscribeWritesABinaryPayloadAsItIsAndJsonCarriesItAsBase64() {
        byte[] binary = {(byte) 0xff, (byte) 0xfe, 0, 'b', 'i', 'n'};
        cli.input(new ByteArrayInputStream(binary), "publish", "binj").ok();
        cli.run("publish", "binj", "é \"text\"").ok();

        Cli.Run text = cli.run("subscribe", "binj", "--browse", "--from", "earliest", "--count", "2").ok();
        var expected = new java.io.ByteArrayOutputStream();
        expected.writeBytes(binary);
        expected.writeBytes("\né \"text\"\n".getBytes(UTF_8));
        assertArrayEquals(expected.toByteArray(), text.stdout());

        Cli.Run json = cli.run("subscribe", "binj", "--browse", "--from", "earliest", "--count", "2", "--json").ok();
        assertEquals(2, json.lines().size(), json.out());
        assertTrue(json.lines().get(0).endsWith(",\"attributes\":{},\"payload_base64\":\"//4AYmlu\"}"), json.out());
        assertTrue(json.lines().get(1).endsWith(",\"attributes\":{},\"payload\":\"é \\\"text\\\"\"}"), json.out());
    }
}
