package io.sluice.cli;

import io.sluice.client.Message;
import io.sluice.telemetry.JsonText;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the few JSON objects the CLI prints; no dependency needed for flat objects of strings and
 * numbers. The string escaping is shared with the load generator's report.
 */
public final class Json {
    private Json() {
    }

    /**
     * One delivered message as a one-line object. A payload that is valid UTF-8 is {@code "payload"}, as
     * text; any other is {@code "payload_base64"}, so that no byte is lost to a replacement character.
     */
    static String message(Message m) {
        var b = new StringBuilder(128);
        b.append("{\"id\":").append(string(m.id()))
                .append(",\"sequence\":").append(Long.toUnsignedString(m.sequence()))
                .append(",\"timestamp\":").append(m.timestamp())
                .append(",\"delivery_count\":").append(Integer.toUnsignedString(m.deliveryCount()))
                .append(",\"attributes\":{");
        boolean first = true;
        for (Map.Entry<String, String> e : new TreeMap<>(m.attributes()).entrySet()) {
            if (!first) {
                b.append(',');
            }
            first = false;
            b.append(string(e.getKey())).append(':').append(string(e.getValue()));
        }
        byte[] payload = m.payload();
        String text = utf8(payload);
        b.append(text != null ? "},\"payload\":" + string(text)
                : "},\"payload_base64\":\"" + Base64.getEncoder().encodeToString(payload) + '"');
        return b.append('}').toString();
    }

    /** The bytes as text when they are valid UTF-8, else null. */
    private static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** A JSON string literal: quotes, backslashes and control characters escaped. */
    public static String string(String s) {
        return JsonText.quote(s);
    }
}
