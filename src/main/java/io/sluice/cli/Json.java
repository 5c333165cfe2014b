package io.sluice.cli;

import io.sluice.client.Message;
import io.sluice.telemetry.JsonText;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the few JSON objects the CLI prints; no dependency needed for flat objects of strings and
 * numbers. The string escaping is shared with the load generator's report.
 */
public final class Json {
    private Json() {
    }

    /** One delivered message as a one-line object; the payload as UTF-8 text. */
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
        return b.append("},\"payload\":").append(string(m.payloadText())).append('}').toString();
    }

    /** A JSON string literal: quotes, backslashes and control characters escaped. */
    public static String string(String s) {
        return JsonText.quote(s);
    }
}
