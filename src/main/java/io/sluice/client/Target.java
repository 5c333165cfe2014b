package io.sluice.client;

/** A broker address, {@code HOST:PORT} or {@code [IPv6]:PORT}. */
record Target(String host, int port) {

    static Target parse(String target) {
        if (target == null || target.isBlank()) {
            throw new IllegalArgumentException("the target is empty; expected HOST:PORT, e.g. 127.0.0.1:50051");
        }
        String t = target.strip();
        int colon = t.lastIndexOf(':');
        String host = colon > 0 ? t.substring(0, colon) : "";
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            host = "";   // a bare IPv6 address: the port is ambiguous
        }
        int port = -1;
        if (colon > 0) {
            try {
                port = Integer.parseInt(t.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
        }
        if (host.isEmpty() || port < 1 || port > 65535) {
            throw new IllegalArgumentException("target '" + target + "' is not HOST:PORT (e.g. 127.0.0.1:50051, "
                    + "[::1]:50051)");
        }
        return new Target(host, port);
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
