package io.github.cxoauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(Sim.class)
class AsyncTest {

    static Throwable failure(CompletableFuture<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        return e.getCause();
    }

    @Test
    void tokenAndRequest(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            Token t = c.tokenAsync().get(10, TimeUnit.SECONDS);
            ClientTest.assertSame(t.value(), c.token(), "tokenAsync");
            assertTrue(t.expiresAt().isAfter(java.time.Instant.now()));
            Response r = c.requestAsync("POST", "/api/v2/echo/x?y=1", Map.of("X-A", "b"),
                    "{\"a\":1}".getBytes()).get(10, TimeUnit.SECONDS);
            assertEquals(200, r.status());
            assertTrue(r.bodyString().contains("\"query\":\"y=1\""), r.bodyString());
            assertEquals(400, c.requestAsync("GET", "/api/v2/users/me", null, null).get(10, TimeUnit.SECONDS).status());
            // A dependent stage runs off the library's completion thread (cxoauth-cb): it may
            // call the client again, blocking calls included.
            sim.fault("api", 1, Map.of("kind", "delay", "ms", 300));
            String again = c.requestAsync("GET", "/api/v2/echo/slow", null, null)
                    .thenApply(x -> c.request("GET", "/api/v2/echo", null, null).status() + ":"
                            + Thread.currentThread().getName()).get(10, TimeUnit.SECONDS);
            assertTrue(again.startsWith("200:") && !again.contains("cxoauth-cb"), again);
        }
        assertEquals(1, sim.counter("token_requests"));
        Sim.waitFor(() -> CxOAuthClient.pendingCalls() == 0, "no pending calls", 5_000);
    }

    @Test
    void sixtyFourSlowRequestsInFlightTakeAboutOneRequestsTime(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            c.token();
            sim.fault("api", 64, Map.of("kind", "delay", "ms", 1000));
            int threadsBefore = Thread.activeCount();
            long t0 = System.nanoTime();
            List<CompletableFuture<Response>> fs = new ArrayList<>();
            for (int i = 0; i < 64; i++) fs.add(c.requestAsync("GET", "/api/v2/echo/" + i, null, null));
            Sim.waitFor(() -> sim.counter("api_requests") >= 64, "64 requests at the server", 10_000);
            int threadsDuring = Thread.activeCount();
            CompletableFuture.allOf(fs.toArray(new CompletableFuture<?>[0])).get(20, TimeUnit.SECONDS);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            for (CompletableFuture<Response> f : fs) assertEquals(200, f.get().status());
            assertTrue(elapsed >= 1.0 && elapsed < 2.5, "elapsed " + elapsed + " s: not about one delay");
            // no Java thread per call (a few may be the library's or the completer's)
            assertTrue(threadsDuring - threadsBefore < 16, threadsBefore + " -> " + threadsDuring);
        }
        assertEquals(64, sim.counter("api_requests"));
    }

    @Test
    void cancellingTheFutureCancelsTheNativeCall(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            c.token();
            sim.fault("api", 1, Map.of("kind", "delay", "ms", 5000));
            CompletableFuture<Response> f = c.requestAsync("GET", "/api/v2/echo/slow", null, null);
            Sim.waitFor(() -> sim.counter("api_requests") >= 1, "the request at the server", 10_000);
            long t0 = System.nanoTime();
            assertTrue(f.cancel(true));
            assertThrows(CancellationException.class, () -> f.get(1, TimeUnit.SECONDS));
            // The library ended the call (its completion ran) promptly, with CANCELLED.
            Sim.waitFor(() -> CxOAuthClient.pendingCalls() == 0, "the native call to end", 1_000);
            assertTrue(System.nanoTime() - t0 < 1_000_000_000L);
            assertTrue(c.statsJson().contains("\"code\":" + Codes.CANCELLED), c.statsJson());
            // still usable
            assertEquals(200, c.requestAsync("GET", "/api/v2/echo", null, null).get(10, TimeUnit.SECONDS).status());
            // a timeout on the future: orTimeout completes it, cancel() ends the native call
            sim.fault("api", 1, Map.of("kind", "delay", "ms", 5000));
            CompletableFuture<Response> slow = c.requestAsync("GET", "/api/v2/echo/slow", null, null);
            assertThrows(ExecutionException.class, () -> slow.orTimeout(200, TimeUnit.MILLISECONDS).get());
            slow.cancel(true);
        }
        Sim.waitFor(() -> CxOAuthClient.pendingCalls() == 0, "no pending calls", 2_000);
    }

    @Test
    void closeWithCallsInFlight(Sim sim) throws Exception {
        CxOAuthClient c = CxOAuthClient.create(sim.config());
        c.token();
        sim.fault("api", 4, Map.of("kind", "delay", "ms", 5000));
        List<CompletableFuture<Response>> fs = new ArrayList<>();
        for (int i = 0; i < 4; i++) fs.add(c.requestAsync("GET", "/api/v2/echo/slow", null, null));
        CompletableFuture<Token> tok = c.tokenAsync(); // cached: may complete or be cancelled
        Sim.waitFor(() -> sim.counter("api_requests") >= 4, "the slow requests", 10_000);
        long t0 = System.nanoTime();
        c.close();
        assertTrue(System.nanoTime() - t0 < 500_000_000L, "close() waited");
        for (CompletableFuture<Response> f : fs) {
            Throwable e = failure(f);
            assertEquals(CancelledException.class, e.getClass(), String.valueOf(e));
            assertEquals(Codes.CANCELLED, ((CxOAuthException) e).code());
        }
        assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "the calls did not end promptly");
        try {
            tok.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertEquals(CancelledException.class, e.getCause().getClass());
        }
        Sim.waitFor(() -> CxOAuthClient.pendingCalls() == 0, "no pending calls", 2_000);
        assertEquals(ClosedException.class, failure(c.tokenAsync()).getClass());
        assertEquals(ClosedException.class, failure(c.requestAsync("GET", "/api/v2/echo", null, null)).getClass());
        assertThrows(ClosedException.class, c::token);
        c.close();
    }

    @Test
    void errorsArriveThroughTheFuture(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("client_secret", "Wr0ngSecretValue")))) {
            AuthException e = (AuthException) failure(c.tokenAsync());
            assertEquals("invalid_client", e.oauthCode());
            assertEquals(401, e.httpStatus());
            assertEquals(AuthException.class, failure(c.requestAsync("GET", "/api/v2/echo", null, null)).getClass());
        }
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            assertEquals(InvalidArgumentException.class,
                    failure(c.requestAsync("GET", "http://elsewhere.example/x", null, null)).getClass());
            assertThrows(InvalidArgumentException.class, () -> c.requestAsync("GET", "/x\0", null, null));
        }
        Sim.waitFor(() -> CxOAuthClient.pendingCalls() == 0, "no pending calls", 2_000);
    }

    @Test
    void anUnreachableClientWithPendingCallsIsNotClosedUnderThem(Sim sim) throws Exception {
        sim.fault("api", 1, Map.of("kind", "delay", "ms", 500));
        CompletableFuture<Response> f = CxOAuthClient.create(sim.config()).requestAsync("GET", "/api/v2/echo", null, null);
        for (int i = 0; i < 3; i++) System.gc();
        assertEquals(200, f.get(10, TimeUnit.SECONDS).status());
    }
}
