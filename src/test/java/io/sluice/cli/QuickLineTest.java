package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** QuickLine reads a client command's line exactly as picocli does, and leaves to picocli what it cannot. */
class QuickLineTest {
    private static final List<String> SKIPPED = List.of("spec", "out", "err", "stdin", "fromGiven");

    /** The command picocli makes of {@code args} (parsed, not run). */
    private static Object picocli(String... args) {
        CommandLine cl = Main.commandLine(new ByteArrayInputStream(new byte[0]), null, args);
        CommandLine.ParseResult parsed = cl.parseArgs(args);
        return parsed.subcommand().commandSpec().userObject();
    }

    /** Every field of the command and of its target options, by name. */
    private static Map<String, Object> fields(Object command) throws IllegalAccessException {
        var out = new LinkedHashMap<String, Object>();
        for (Class<?> c = command.getClass(); c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || SKIPPED.contains(f.getName())) {
                    continue;
                }
                f.setAccessible(true);
                Object v = f.get(command);
                if (v instanceof TargetOption t) {
                    out.putAll(fields(t));
                } else {
                    out.put(f.getName(), v instanceof Map<?, ?> m ? Map.copyOf(m) : v);
                }
            }
        }
        return out;
    }

    @Test
    void readsWhatItTakesAsPicocliDoes() throws IllegalAccessException {
        List<String[]> lines = List.of(
                new String[] {"topics"},
                new String[] {"topics", "--target", "h:1"},
                new String[] {"topics", "--target=h:2", "--token", "secret", "--tls", "--tls-ca", "ca.pem"},
                new String[] {"publish", "orders", "hello world", "-a", "k=v", "--attribute", "x=y=z", "-a", "k=w"},
                new String[] {"publish", "orders", "\"quoted\"", "--target", "h:3"},
                new String[] {"publish", "-a", "k=v", "orders", "--batch", "-"},
                new String[] {"publish", "orders", "--file", "payload.bin", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
                new String[] {"subscribe", "orders"},
                new String[] {"subscribe", "orders", "--group", "g1", "--from", "earliest", "--count", "3", "--ack"},
                new String[] {"subscribe", "orders", "-g", "g2", "--from=42", "-n", "+7", "--json", "--browse"},
                new String[] {"subscribe", "orders", "--from", "LATEST", "--credits", "10", "--timeout", "5s",
                        "--reconnect-for", "PT1M"},
                new String[] {"stats"},
                new String[] {"stats", "a", "b", "--target", "h:4"},
                new String[] {"delete-topic", "orders"},
                new String[] {"delete-group", "orders", "g"},
                new String[] {"reset-cursor", "orders", "g", "0"},
                new String[] {"reset-cursor", "orders", "g", "123456789012"});
        for (String[] line : lines) {
            Object quick = QuickLine.parse(new ByteArrayInputStream(new byte[0]), line);
            assertNotNull(quick, () -> String.join(" ", line));
            assertEquals(fields(picocli(line)), fields(quick), () -> String.join(" ", line));
        }
    }

    @Test
    void leavesToPicocliWhatItDoesNotTakeExactly() {
        List<String[]> lines = List.of(
                new String[] {"serve"},
                new String[] {"help"},
                new String[] {"token", "new", "x"},
                new String[] {"topics", "--help"},
                new String[] {"publish", "--version"},
                new String[] {"topics", "extra"},
                new String[] {"publish"},
                new String[] {"publish", "orders", "a", "b"},
                new String[] {"publish", "orders", "a", "--file", "f"},
                new String[] {"publish", "orders", "-a", "novalue"},
                new String[] {"publish", "orders", "--", "-x"},
                new String[] {"publish", "@args.txt"},
                new String[] {"publish", "orders", "-5"},
                new String[] {"topics", "--target", "a:1", "--target", "b:2"},
                new String[] {"topics", "--target"},
                new String[] {"topics", "--tls=true"},
                new String[] {"subscribe", "orders", "--credits", "0"},
                new String[] {"subscribe", "orders", "--ack", "--browse"},
                new String[] {"subscribe", "orders", "--from", "soon"},
                new String[] {"subscribe", "orders", "--timeout", "5 parsecs"},
                new String[] {"subscribe", "orders", "-n", "-1"},
                new String[] {"reset-cursor", "orders", "g", "0x10"},
                new String[] {"delete-group", "orders"});
        for (String[] line : lines) {
            assertNull(QuickLine.parse(new ByteArrayInputStream(new byte[0]), line), () -> String.join(" ", line));
        }
    }
}
