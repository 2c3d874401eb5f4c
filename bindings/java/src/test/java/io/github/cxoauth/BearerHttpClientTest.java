package io.github.cxoauth;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** BearerHttpClient over a real java.net.http.HttpClient against the simulator (the API
 * origin) and a second server of ours on another origin that records what it gets. */
@ExtendWith(Sim.class)
class BearerHttpClientTest {
    /** Another origin on 127.0.0.1: records whether each request carried Authorization (never
     * its value) and answers 401. */
    private HttpServer other;
    private String otherBase;
    private final List<Boolean> otherSawAuth = new ArrayList<>();

    @BeforeEach
    void startOther() throws IOException {
        other = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        other.createContext("/", ex -> {
            ex.getRequestBody().readAllBytes();
            synchronized (otherSawAuth) {
                otherSawAuth.add(ex.getRequestHeaders().containsKey("Authorization"));
            }
            byte[] body = "{}".getBytes();
            ex.sendResponseHeaders(401, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        other.start();
        otherBase = "http://127.0.0.1:" + other.getAddress().getPort();
    }

    @AfterEach
    void stopOther() {
        other.stop(0);
    }

    private List<Boolean> seen() {
        synchronized (otherSawAuth) {
            return new ArrayList<>(otherSawAuth);
        }
    }

    static HttpClient plain() {
        return HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
                .followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(5)).build();
    }

    static HttpRequest get(String url) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build();
    }

    static Optional<String> auth(HttpResponse<?> r) {
        return r.request().headers().firstValue("Authorization");
    }

    @Test
    void theBearerGoesOnlyToTheApiOrigin(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            BearerHttpClient http = new BearerHttpClient(c, plain());
            assertEquals(URI.create(sim.base), http.apiBase());
            HttpResponse<String> r = http.send(get(sim.base + "/api/v2/organizations/me"), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertTrue(r.body().contains("Simulated Org"));
            assertTrue(auth(r).orElse("").equals("Bearer " + c.token()), "no bearer to the API origin");
            // another origin: untouched, and its 401 is returned as is
            r = http.send(get(otherBase + "/anything"), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode());
            // same port and scheme, another host name: another origin
            r = http.send(get(sim.base.replace("127.0.0.1", "localhost") + "/api/v2/organizations/me"),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode());
            assertTrue(auth(r).isEmpty());
            assertTrue(http.appliesTo(URI.create(sim.base + "/x")) && !http.appliesTo(URI.create(otherBase)));
        }
        assertEquals(List.of(false), seen());
        assertEquals(1, sim.counter("token_requests"));
        assertEquals(2, sim.counter("api_requests"));
    }

    @Test
    void a401FromTheApiOriginInvalidatesAndResendsOnce(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            BearerHttpClient http = new BearerHttpClient(c, plain());
            String old = c.token();
            sim.admin("POST", "revoke", null); // the cached token is now rejected by the API
            HttpRequest post = HttpRequest.newBuilder(URI.create(sim.base + "/api/v2/echo/x"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"a\":1}")).build();
            HttpResponse<String> r = http.send(post, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertTrue(r.body().contains("\"body\":\"{\\\"a\\\":1}\""), "the body was not resent");
            String fresh = c.token();
            ClientTest.assertDiffer(old, fresh, "token after a 401");
            assertTrue(auth(r).orElse("").equals("Bearer " + fresh), "the resend did not carry the new token");
            assertEquals(2, sim.counter("token_requests"));
            assertEquals(2, sim.counter("api_requests"));
            // a second 401 is returned: one resend, not a loop
            sim.fault("api", 2, Map.of("kind", "status", "status", 401));
            r = http.send(get(sim.base + "/api/v2/organizations/me"), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode());
            assertEquals(3, sim.counter("token_requests"));
            assertEquals(4, sim.counter("api_requests"));
            // the same through sendAsync
            sim.admin("POST", "revoke", null);
            HttpResponse<String> ra = http.sendAsync(post, HttpResponse.BodyHandlers.ofString()).get(10, TimeUnit.SECONDS);
            assertEquals(200, ra.statusCode());
            assertEquals(4, sim.counter("token_requests"));
            assertEquals(6, sim.counter("api_requests"));
        }
    }

    @Test
    void aRedirectToAnotherOriginLosesTheBearerAndIts401IsReturnedAsIs(Sim sim) throws Exception {
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            BearerHttpClient http = new BearerHttpClient(c, plain());
            c.token();
            sim.fault("api", 1, Map.of("kind", "redirect", "location", otherBase + "/landing"));
            HttpResponse<String> r = http.send(get(sim.base + "/api/v2/echo/r"), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode());
            assertEquals(URI.create(otherBase + "/landing"), r.uri());
            assertTrue(auth(r).isEmpty());
            sim.fault("api", 1, Map.of("kind", "redirect", "location", otherBase + "/landing"));
            HttpResponse<String> ra = http.sendAsync(get(sim.base + "/api/v2/echo/r"), HttpResponse.BodyHandlers.ofString())
                    .get(10, TimeUnit.SECONDS);
            assertEquals(401, ra.statusCode());
            // a redirect within the API origin keeps the bearer
            sim.fault("api", 1, Map.of("kind", "redirect", "location", sim.base + "/api/v2/organizations/me"));
            r = http.send(get(sim.base + "/api/v2/echo/r"), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertTrue(r.body().contains("Simulated Org"));
        }
        assertEquals(List.of(false, false), seen()); // never the bearer
        assertEquals(1, sim.counter("token_requests")); // the foreign 401s invalidated nothing
    }

    @Test
    void theApiBaseMustBeKnown(Sim sim) {
        try (CxOAuthClient c = CxOAuthClient.create(Map.of("region", "eu-central-1", "client_id", "a", "client_secret", "b"))) {
            assertNull(c.apiBase());
            assertThrows(IllegalArgumentException.class, () -> new BearerHttpClient(c, plain()));
            BearerHttpClient h = new BearerHttpClient(c, plain(), URI.create("https://api.mypurecloud.de"));
            assertTrue(h.appliesTo(URI.create("https://API.mypurecloud.de:443/api/v2/x")));
            assertFalse(h.appliesTo(URI.create("http://api.mypurecloud.de/api/v2/x")));
            assertFalse(h.appliesTo(URI.create("https://api.mypurecloud.de:8443/")));
        }
    }
}
