package io.sluice.telemetry;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's headless Chromium driven over the DevTools protocol, through the JDK's WebSocket client:
 * one page, JavaScript evaluated in it, screenshots. {@link #ensureInstalled()} installs the package
 * with apt-get when it is missing and this runs as root (as CI does); otherwise it answers why not.
 */
final class Chromium implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/bin/chromium");
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://\\S+)");
    private static final Pattern ID = Pattern.compile("^\\{\"id\":(\\d+),");

    private final Process process;
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<String>> answers = new ConcurrentHashMap<>();

    private Chromium(Process process, WebSocket socket) {
        this.process = process;
        this.socket = socket;
    }

    /** Null when Chromium is there (installed now if need be), else the reason it cannot be. */
    static String ensureInstalled() throws IOException, InterruptedException {
        if (Files.isExecutable(BINARY)) {
            return null;
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            return BINARY + " is missing and this test is not running as root, so it cannot install Debian's "
                    + "chromium package (apt-get install chromium)";
        }
        for (List<String> step : List.of(List.of("apt-get", "update", "-qq"),
                List.of("apt-get", "install", "-y", "-qq", "chromium"))) {
            var pb = new ProcessBuilder(step).redirectErrorStream(true);
            pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                return String.join(" ", step) + " failed: " + out.lines().reduce((a, b) -> b).orElse("");
            }
        }
        return Files.isExecutable(BINARY) ? null : "apt-get installed chromium but " + BINARY + " is not there";
    }

    /** Starts a headless Chromium with a fresh profile in {@code profile} and opens {@code url} in one page. */
    static Chromium open(Path profile, String url) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", "--window-size=1300,1000", "about:blank")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            String browser = devToolsUrl(p);
            int port = URI.create(browser).getPort();
            HttpClient http = HttpClient.newHttpClient();
            String page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/new?" + url))
                    .PUT(HttpRequest.BodyPublishers.noBody()).timeout(WAIT).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            Matcher ws = Pattern.compile("\"webSocketDebuggerUrl\"\\s*:\\s*\"([^\"]+)\"").matcher(page);
            if (!ws.find()) {
                throw new IOException("Chromium opened no page: " + page);
            }
            var listener = new Listener();
            WebSocket socket = http.newWebSocketBuilder().connectTimeout(WAIT).buildAsync(URI.create(ws.group(1)), listener)
                    .get(WAIT.toSeconds(), TimeUnit.SECONDS);
            var chromium = new Chromium(p, socket);
            listener.owner = chromium;
            return chromium;
        } catch (IOException | InterruptedException | RuntimeException e) {
            p.destroyForcibly();
            throw e;
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IOException("cannot drive Chromium: " + e, e);
        }
    }

    private static String devToolsUrl(Process p) throws IOException {
        var lines = new ArrayList<String>();
        var found = new CompletableFuture<String>();
        Thread.ofVirtual().start(() -> {
            try (var err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = err.readLine()) != null; ) {
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        found.complete(m.group(1));
                    } else if (!found.isDone()) {
                        lines.add(line);
                    }
                }
            } catch (IOException e) {
                found.completeExceptionally(e);
            }
            found.completeExceptionally(new IOException("Chromium exited: " + lines));
        });
        try {
            return found.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException("Chromium did not open its DevTools port: " + e.getMessage(), e);
        }
    }

    /** Sends one DevTools command and answers its raw JSON answer. */
    String call(String method, String paramsJson) throws Exception {
        int id = ids.incrementAndGet();
        var answer = new CompletableFuture<String>();
        answers.put(id, answer);
        socket.sendText("{\"id\":" + id + ",\"method\":\"" + method + "\",\"params\":" + paramsJson + "}", true)
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
        String a = answer.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        if (a.contains("\"error\":{")) {
            throw new IllegalStateException(method + " failed: " + a);
        }
        return a;
    }

    /** Evaluates {@code expression} in the page; answers its value made a string by JSON.stringify. */
    String eval(String expression) throws Exception {
        String a = call("Runtime.evaluate", "{\"expression\":" + ConsoleJson.str("JSON.stringify(" + expression + ")")
                + ",\"returnByValue\":true}");
        Matcher m = Pattern.compile("\"value\":\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(a);
        return m.find() ? m.group(1).replace("\\\"", "\"").replace("\\\\", "\\") : "undefined";
    }

    /** Writes a PNG of the page to {@code file}. */
    void screenshot(Path file) throws Exception {
        String a = call("Page.captureScreenshot", "{\"format\":\"png\"}");
        Matcher m = Pattern.compile("\"data\":\"([^\"]+)\"").matcher(a);
        if (!m.find()) {
            throw new IllegalStateException("no screenshot in " + a.substring(0, Math.min(200, a.length())));
        }
        Files.createDirectories(file.getParent());
        Files.write(file, Base64.getDecoder().decode(m.group(1)));
    }

    @Override
    public void close() throws InterruptedException {
        socket.abort();
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Collects each text message (they may come in parts) and completes the call it answers. */
    private static final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();
        volatile Chromium owner;

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                String message = text.toString();
                text.setLength(0);
                Matcher m = ID.matcher(message);
                Chromium c = owner;
                if (m.find() && c != null) {
                    var answer = c.answers.remove(Integer.parseInt(m.group(1)));
                    if (answer != null) {
                        answer.complete(message);
                    }
                }
            }
            ws.request(1);
            return null;
        }
    }
}
