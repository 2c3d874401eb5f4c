package io.github.cxoauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.*;

/** Per-call options (oauth_request_ex / oauth_request_async_ex), counted by the simulator. */
@ExtendWith(Sim.class)
class CallOptionsTest {

    @Test
    void optionsTakeEffect(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("max_retries", 3)))) {
            c.token();
            sim.fault("api", 2, Map.of("kind", "status", "status", 503));
            long before = sim.counter("api_requests");
            assertEquals(503, c.request("GET", "/api/v2/echo", null, null, CallOptions.none().maxRetries(0)).status());
            assertEquals(1, sim.counter("api_requests") - before);
            // idempotent: a POST retried after the second 503, through the async call
            before = sim.counter("api_requests");
            CallOptions idem = CallOptions.none().idempotent(true).deadline(Duration.ofSeconds(10));
            assertEquals(200, c.requestAsync("POST", "/api/v2/echo", null,
                    "{}".getBytes(StandardCharsets.UTF_8), idem).join().status());
            assertEquals(2, sim.counter("api_requests") - before);
            // resendAfter401(false): the 401, no new token
            sim.admin("POST", "revoke", Map.of());
            long tokens = sim.counter("token_requests");
            CallOptions keep = CallOptions.none().resendAfter401(false).timeout(Duration.ofSeconds(5))
                    .pacing(CallOptions.Pacing.FAIL_FAST);
            assertEquals(401, c.request("GET", "/api/v2/echo", null, null, keep).status());
            assertEquals(tokens, sim.counter("token_requests"));
            assertEquals(200, c.request("GET", "/api/v2/echo", null, null).status());
            assertEquals(tokens + 1, sim.counter("token_requests"));
        }
        assertEquals("{\"max_retries\":0}", CallOptions.none().maxRetries(0).toJson());
        assertEquals(CallOptions.none().maxRetries(1), CallOptions.none().maxRetries(1));
    }

    @Test
    void badOptionNamesTheKey(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> c.request("GET", "/api/v2/echo", null, null, CallOptions.none().maxRetries(101)));
            assertTrue(e.getMessage().contains("\"max_retries\""), e.getMessage());
            CompletionException ce = assertThrows(CompletionException.class,
                    () -> c.requestAsync("GET", "/api/v2/echo", null, null,
                            CallOptions.none().deadline(Duration.ZERO)).join());
            assertInstanceOf(InvalidArgumentException.class, ce.getCause());
        }
        assertEquals(0, sim.counter("api_requests"));
    }
}
