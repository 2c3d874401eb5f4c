package io.github.cxoauth;

import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The project's simulator (cxoauth-sim) on 127.0.0.1, started once per test run by this JUnit
 * extension (readiness: its port file) and stopped at the end; reset before every test.
 * {@code -Dcxoauth.sim.bin} (run-tests.sh: CXOAUTH_SIM_BIN) names the binary. Tests take it
 * as a parameter: {@code @ExtendWith(Sim.class) ... void t(Sim sim)}.
 */
public final class Sim implements BeforeEachCallback, ParameterResolver {
    static final String CLIENT_ID = "test-client";
    static final String SECRET = "s3cr:/+=%&et value";

    private static final HttpClient ADMIN = HttpClient.newBuilder()
            .proxy(HttpClient.Builder.NO_PROXY).connectTimeout(Duration.ofSeconds(5)).build();

    final int port;
    final String base;
    private final Process process;
    private final Path dir;

    private Sim(Process process, Path dir, int port) {
        this.process = process;
        this.dir = dir;
        this.port = port;
        this.base = "http://127.0.0.1:" + port;
    }

    /** The instance JUnit makes for @ExtendWith; the running simulator is shared. */
    public Sim() {
        this.process = null;
        this.dir = null;
        this.port = 0;
        this.base = null;
    }

    private static final class Running implements ExtensionContext.Store.CloseableResource {
        final Sim sim;

        Running(Sim sim) { this.sim = sim; }

        @Override
        public void close() throws Exception {
            sim.stop();
        }
    }

    static Sim start() throws IOException, InterruptedException {
        String bin = System.getProperty("cxoauth.sim.bin", System.getenv("CXOAUTH_SIM_BIN"));
        if (bin == null || !Files.isExecutable(Path.of(bin))) {
            throw new IllegalStateException("the simulator binary is missing: " + bin
                    + " (set CXOAUTH_SIM_BIN / -Dcxoauth.sim.bin)");
        }
        Path dir = Files.createTempDirectory("cxoauth-sim");
        Path portFile = dir.resolve("port");
        Process p = new ProcessBuilder(bin, "--port", "0", "--port-file", portFile.toString(),
                "--client", CLIENT_ID + ":" + SECRET)
                .redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(Files.exists(portFile) && Files.size(portFile) > 0)) {
            if (!p.isAlive()) throw new IllegalStateException("the simulator exited: " + Files.readString(dir.resolve("log")));
            if (System.nanoTime() > deadline) {
                p.destroy();
                throw new IllegalStateException("the simulator did not become ready");
            }
            // Polls the port file (the simulator writes it atomically once it listens).
            p.waitFor(20, TimeUnit.MILLISECONDS);
        }
        return new Sim(p, dir, Integer.parseInt(Files.readString(portFile).trim()));
    }

    void stop() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) Files.deleteIfExists(f);
        }
        Files.deleteIfExists(dir);
    }

    private static Sim shared(ExtensionContext ctx) {
        return ctx.getRoot().getStore(ExtensionContext.Namespace.create(Sim.class))
                .getOrComputeIfAbsent("sim", k -> {
                    try {
                        return new Running(start());
                    } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }, Running.class).sim;
    }

    @Override
    public void beforeEach(ExtensionContext ctx) throws Exception {
        shared(ctx).admin("POST", "reset", null);
    }

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext ctx) {
        return p.getParameter().getType() == Sim.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext ctx) {
        return shared(ctx);
    }

    // --- the admin API ---------------------------------------------------------------------

    Object admin(String method, String path, Object body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/__admin/" + path))
                    .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json");
            b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(Json.write(body)));
            HttpResponse<String> r = ADMIN.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() >= 300) throw new IllegalStateException("admin " + path + ": HTTP " + r.statusCode());
            String ct = r.headers().firstValue("Content-Type").orElse("");
            return ct.startsWith("application/json") && !r.body().isEmpty() ? Json.parse(r.body()) : null;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> counters() {
        return (Map<String, Object>) admin("GET", "counters", null);
    }

    long counter(String name) {
        return ((Number) counters().get(name)).longValue();
    }

    /** Injects a fault: {@code fault("api", 32, Map.of("kind", "delay", "ms", 1000))}. */
    void fault(String target, int count, Map<String, Object> action) {
        fault(target, count, null, action);
    }

    void fault(String target, int count, String pathPrefix, Map<String, Object> action) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("target", target);
        f.put("count", count);
        if (pathPrefix != null) f.put("path_prefix", pathPrefix);
        f.put("action", action);
        admin("POST", "faults", f);
    }

    Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("token_url", base + "/oauth/token");
        c.put("api_base", base);
        c.put("client_id", CLIENT_ID);
        c.put("client_secret", SECRET);
        c.put("backoff_base_ms", 20);
        c.put("backoff_max_ms", 200);
        return c;
    }

    Map<String, Object> config(Map<String, Object> extra) {
        Map<String, Object> c = config();
        c.putAll(extra);
        return c;
    }

    /** Waits until {@code cond} holds (polling, bounded): a readiness wait, not a sleep. */
    static void waitFor(BooleanSupplier cond, String what, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(5);
        }
    }
}
