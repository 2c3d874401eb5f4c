package io.github.cxoauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(Sim.class)
class ClientTest {

    /** Token comparisons whose failure message never shows a token. */
    static void assertSame(String a, String b, String what) {
        if (!a.equals(b)) fail(what + ": differ (values not shown)");
    }

    static void assertDiffer(String a, String b, String what) {
        if (a.equals(b)) fail(what + ": equal (values not shown)");
    }

    @Test
    void versionAndLibrary() {
        assertEquals("0.2.0", CxOAuth.version());
        assertNotNull(CxOAuth.libraryPath());
    }

    @Test
    void tokenIsCachedAndTokenExHasTheExpiry(Sim sim) {
        sim.admin("POST", "config", Map.of("token_lifetime_s", 120));
        Instant before = Instant.now();
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            String t = c.token();
            assertFalse(t.isEmpty());
            assertSame(t, c.token(), "cached token");
            Token ex = c.tokenEx();
            assertSame(t, ex.value(), "tokenEx");
            Instant after = Instant.now();
            assertTrue(!ex.expiresAt().isBefore(before.plusSeconds(118))
                    && !ex.expiresAt().isAfter(after.plusSeconds(122)), ex.expiresAt().toString());
            assertFalse(ex.toString().contains(t));
        }
        assertEquals(1, sim.counter("token_requests"));
    }

    @Test
    void jsonStringAndTypedConfig(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(Json.write(sim.config()))) {
            assertEquals(sim.base, c.apiBase());
            assertEquals(200, c.request("GET", "/api/v2/organizations/me", null, null).status());
        }
        CxOAuthConfig cfg = CxOAuthConfig.builder().tokenUrl(sim.base + "/oauth/token").apiBase(sim.base)
                .clientId(Sim.CLIENT_ID).clientSecret(Sim.SECRET).timeoutMs(5000).build();
        assertFalse(cfg.toString().contains(Sim.SECRET));
        try (CxOAuthClient c = CxOAuthClient.create(cfg)) {
            assertEquals(sim.base, c.apiBase());
            assertFalse(c.token().isEmpty());
        }
    }

    @Test
    void requestWithHeadersAndBody(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            Response r = c.request("POST", "/api/v2/echo/x?y=1", Map.of("X-Custom", "héllo"),
                    "{\"a\":1}".getBytes(StandardCharsets.UTF_8));
            assertEquals(200, r.status());
            @SuppressWarnings("unchecked")
            Map<String, Object> v = (Map<String, Object>) Json.parse(r.bodyString());
            assertEquals("POST", v.get("method"));
            assertEquals("y=1", v.get("query"));
            assertEquals("{\"a\":1}", v.get("body"));
            assertEquals("héllo", ((Map<?, ?>) v.get("headers")).get("x-custom"));
            assertTrue(r.header("Content-Type").startsWith("application/json"));
            assertTrue(r.headers().containsKey("inin-correlation-id"));
            assertArrayEquals(r.bodyString().getBytes(StandardCharsets.UTF_8), r.body());
        }
    }

    @Test
    void repeatedHeadersStayApart(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            Response r = c.request("GET", "/api/v2/organizations/me", null, null);
            List<String> cookies = r.headers().get("set-cookie");
            assertEquals(2, cookies.size(), r.headers().toString());
            assertTrue(cookies.get(0).startsWith("AWSALB=") && cookies.get(1).startsWith("AWSALBCORS="));
            assertTrue(cookies.get(0).contains("Expires="));
            assertEquals(cookies.get(0), r.header("SET-COOKIE"));
            assertEquals(cookies, r.headerValues("Set-Cookie"));
            assertNull(r.header("x-absent"));
        }
    }

    @Test
    void anHttpErrorIsAResponse(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            Response r = c.request("GET", "/api/v2/users/me", null, null);
            assertEquals(400, r.status());
            assertTrue(r.bodyString().contains("bad.request"));
        }
    }

    @Test
    void invalidate(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            String t1 = c.token();
            c.invalidate(t1);
            String t2 = c.token();
            assertDiffer(t1, t2, "token after invalidate");
            c.invalidate(t1); // older: nothing happens
            c.invalidate("not-a-token-we-have");
            assertSame(t2, c.token(), "token");
            assertEquals(2, sim.counter("token_requests"));
        }
    }

    @Test
    void statsAndCredentialRotation(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("client_secret", "Wr0ngSecretValue")))) {
            assertThrows(AuthException.class, c::token);
            c.setCredentials(Sim.CLIENT_ID, Sim.SECRET);
            assertFalse(c.token().isEmpty());
            @SuppressWarnings("unchecked")
            Map<String, Object> s = (Map<String, Object>) Json.parse(c.statsJson());
            assertEquals(2L, s.get("token_fetches"));
            assertEquals(1L, s.get("token_fetch_failures"));
            assertFalse(c.statsJson().contains("Wr0ngSecretValue"));
        }
    }

    // --- errors by code ------------------------------------------------------------------------

    @Test
    void authError(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("client_secret", "Wr0ngSecretValue")))) {
            AuthException e = assertThrows(AuthException.class, c::token);
            assertEquals(Codes.AUTH, e.code());
            assertEquals(401, e.httpStatus());
            assertEquals("invalid_client", e.oauthCode());
            assertFalse(e.getMessage().contains("Wr0ngSecretValue"));
            assertFalse(e.toString().contains("Wr0ngSecretValue"));
            // a request without a token fails with the same code
            assertThrows(AuthException.class, () -> c.request("GET", "/api/v2/echo", null, null));
        }
    }

    @Test
    void configError() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> CxOAuthClient.create(Map.of("regoin", "eu-west-1")));
        assertEquals(Codes.CONFIG, e.code());
        assertTrue(e.getMessage().contains("regoin"), e.getMessage());
        assertThrows(ConfigException.class, () -> CxOAuthClient.create(
                Map.of("region", "eu-west-1", "client_id", "a", "client_secret", "b", "timeout_ms", -1)));
        assertThrows(ConfigException.class, () -> CxOAuthClient.create("{not json"));
    }

    @Test
    void invalidArguments(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> c.request("GET", "https://evil.example/api", null, null));
            assertEquals(Codes.INVALID_ARGUMENT, e.code());
            assertThrows(InvalidArgumentException.class,
                    () -> c.request("GET", "/api/v2/echo", Map.of("X", "a\r\nInjected: 1"), null));
            // a NUL would cut the C string short: refused, not truncated
            assertThrows(InvalidArgumentException.class, () -> c.request("GET", "/api/v2/echo\0/x", null, null));
            assertThrows(InvalidArgumentException.class,
                    () -> c.request("GET", "/api/v2/echo", Map.of("X", "a\0b"), null));
            assertThrows(InvalidArgumentException.class, () -> c.setCredentials("a", "b\0c"));
            assertThrows(InvalidArgumentException.class, () -> c.request("GET NOW", "/api/v2/echo", null, null));
        }
        assertEquals(0, sim.counter("api_requests"));
    }

    @Test
    void rateLimitedServerProtocolTimeoutNetwork(Sim sim) throws Exception {
        Map<String, Object> once = Map.of("max_retries", 0);
        sim.fault("token", 5, Map.of("kind", "status", "status", 429, "retry_after", "0"));
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(once))) {
            RateLimitedException e = assertThrows(RateLimitedException.class, c::token);
            assertEquals(Codes.RATE_LIMITED, e.code());
            assertEquals(429, e.httpStatus());
        }
        sim.admin("POST", "reset", null);
        sim.fault("token", 5, Map.of("kind", "status", "status", 503));
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(once))) {
            ServerException e = assertThrows(ServerException.class, c::token);
            assertEquals(Codes.SERVER, e.code());
            assertEquals(503, e.httpStatus());
        }
        sim.admin("POST", "reset", null);
        sim.fault("token", 5, Map.of("kind", "token_reply", "body", "{\"token_type\":\"bearer\"}"));
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(once))) {
            assertEquals(Codes.PROTOCOL, assertThrows(ProtocolException.class, c::token).code());
        }
        sim.admin("POST", "reset", null);
        sim.fault("token", 5, Map.of("kind", "delay", "ms", 3000));
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("max_retries", 0, "timeout_ms", 200)))) {
            assertEquals(Codes.TIMEOUT, assertThrows(TimeoutException.class, c::token).code());
        }
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        Map<String, Object> cfg = sim.config(Map.of("max_retries", 0,
                "token_url", "http://127.0.0.1:" + closedPort + "/oauth/token"));
        try (CxOAuthClient c = CxOAuthClient.create(cfg)) {
            assertEquals(Codes.NETWORK, assertThrows(NetworkException.class, c::token).code());
        }
    }

    @Test
    void everyCodeHasItsClass() {
        Class<?>[] byCode = {null, InvalidArgumentException.class, ConfigException.class, NetworkException.class,
            TimeoutException.class, TlsException.class, AuthException.class, RateLimitedException.class,
            ServerException.class, ProtocolException.class, CancelledException.class, InternalException.class,
            ClosedException.class};
        for (int code = 1; code < byCode.length; code++) {
            CxOAuthException e = CxOAuthException.forCode(code, "m", 0, null, null);
            assertEquals(byCode[code], e.getClass());
            assertEquals(code, e.code());
            assertTrue(e instanceof RuntimeException);
        }
        assertEquals(CxOAuthException.class, CxOAuthException.forCode(99, "m", 0, null, null).getClass());
    }

    // --- close ---------------------------------------------------------------------------------

    @Test
    void closeEndsBlockingCallsInFlightAndLaterCallsAreClosed(Sim sim) throws Exception {
        CxOAuthClient c = CxOAuthClient.create(sim.config());
        c.token();
        int n = 4;
        sim.fault("api", n, Map.of("kind", "delay", "ms", 5000));
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch ended = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(() -> {
                try {
                    c.request("GET", "/api/v2/echo/slow", null, null);
                } catch (Throwable e) {
                    errors.add(e);
                }
                ended.countDown();
            });
            t.start();
        }
        Sim.waitFor(() -> sim.counter("api_requests") >= n, "the slow requests", 10_000);
        long t0 = System.nanoTime();
        c.close();
        assertTrue(System.nanoTime() - t0 < 500_000_000L, "close() waited");
        assertTrue(ended.await(5, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue((System.nanoTime() - t0) < 1_000_000_000L, "the calls did not end promptly");
        assertEquals(n, errors.size());
        for (Throwable e : errors) assertEquals(CancelledException.class, e.getClass(), e.toString());
        ClosedException e = assertThrows(ClosedException.class, c::token);
        assertEquals(Codes.CLOSED, e.code());
        assertThrows(ClosedException.class, () -> c.request("GET", "/api/v2/echo", null, null));
        assertThrows(ClosedException.class, () -> c.invalidate("x"));
        assertThrows(ClosedException.class, c::statsJson);
        assertTrue(c.isClosed());
        c.close(); // idempotent
    }

    @Test
    void closeConcurrentWithManyCalls(Sim sim) throws Exception {
        for (int round = 0; round < 20; round++) {
            CxOAuthClient c = CxOAuthClient.create(sim.config());
            c.token();
            List<Thread> threads = new ArrayList<>();
            List<Throwable> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < 4; i++) {
                Thread t = new Thread(() -> {
                    for (int k = 0; k < 20; k++) {
                        try {
                            c.request("GET", "/api/v2/echo", null, null);
                            c.requestAsync("GET", "/api/v2/echo", null, null).exceptionally(x -> null);
                        } catch (CancelledException | ClosedException expected) {
                            // close() ran
                        } catch (Throwable x) {
                            unexpected.add(x);
                        }
                    }
                });
                t.start();
                threads.add(t);
            }
            c.close();
            for (Thread t : threads) t.join(10_000);
            assertTrue(unexpected.isEmpty(), unexpected.toString());
        }
        Sim.waitFor(() -> CxOAuthClient.pendingCalls() == 0, "the async calls to end", 5_000);
    }
}
