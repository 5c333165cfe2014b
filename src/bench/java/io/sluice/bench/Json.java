package io.sluice.bench;

import java.util.List;
import java.util.Map;

/** Renders maps, lists, strings, numbers, booleans and nulls as indented JSON; non-finite numbers become null. */
final class Json {
    private Json() {
    }

    static String render(Object value) {
        var b = new StringBuilder();
        write(b, value, "");
        return b.append('\n').toString();
    }

    private static void write(StringBuilder b, Object value, String indent) {
        switch (value) {
            case null -> b.append("null");
            case String s -> string(b, s);
            case Boolean x -> b.append(x);
            case Double d -> b.append(d.isNaN() || d.isInfinite() ? "null" : number(d));
            case Float f -> write(b, f.doubleValue(), indent);
            case Number n -> b.append(n);
            case Map<?, ?> map -> {
                if (map.isEmpty()) {
                    b.append("{}");
                    return;
                }
                b.append("{\n");
                int i = 0;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    b.append(indent).append("  ");
                    string(b, String.valueOf(e.getKey()));
                    b.append(": ");
                    write(b, e.getValue(), indent + "  ");
                    b.append(++i < map.size() ? ",\n" : "\n");
                }
                b.append(indent).append('}');
            }
            case List<?> list -> {
                if (list.isEmpty()) {
                    b.append("[]");
                    return;
                }
                b.append("[\n");
                for (int i = 0; i < list.size(); i++) {
                    b.append(indent).append("  ");
                    write(b, list.get(i), indent + "  ");
                    b.append(i + 1 < list.size() ? ",\n" : "\n");
                }
                b.append(indent).append(']');
            }
            default -> string(b, value.toString());
        }
    }

    private static String number(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return Long.toString((long) d);
        }
        return Double.toString(Math.round(d * 1000) / 1000.0);
    }

    private static void string(StringBuilder b, String s) {
        b.append(io.sluice.cli.Json.string(s));   // the CLI's escaping, one implementation
    }
}
