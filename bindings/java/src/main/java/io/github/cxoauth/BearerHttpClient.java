package io.github.cxoauth;

import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * A {@link java.net.http.HttpClient} that adds {@code Authorization: Bearer <token>} to
 * requests for the API origin only (scheme, host and port of the API base): the bearer goes
 * only to the API origin; a 401 from elsewhere is returned as is.
 *
 * <p>Requests to any other origin go out through the wrapped client untouched (an {@code
 * Authorization} header the caller set on them stays as it is). For a request to the API
 * origin, any {@code Authorization} header of the caller is replaced by the bearer. A 401
 * answered by the API origin to a request that carried the token reports that token as
 * rejected ({@link CxOAuthClient#invalidate}, compare-and-drop), gets a fresh one and sends
 * the request once more (its {@link HttpRequest.BodyPublisher} is subscribed again); a second
 * 401 is returned as it is. A 401 answered by another origin (after a redirect the wrapped
 * client followed) causes no invalidation and no resend.
 *
 * <p>Redirects: java.net.http does not promise to drop an {@code Authorization} header when it
 * follows a redirect to another origin. So that the bearer never leaves the API origin, a request that carries it
 * is sent with redirects off and this class follows them itself, as the wrapped client's
 * {@link #followRedirects()} policy says (at most 5 hops, 303 and a POST's 301/302 become a
 * GET without a body): a hop to the API origin carries the bearer, a hop elsewhere goes out
 * without it.
 *
 * <p>WebSockets ({@link #newWebSocketBuilder()}) are the wrapped client's and get no token.
 * The wrapper does not own the {@link CxOAuthClient}.
 */
public final class BearerHttpClient extends HttpClient {
    private static final int MAX_REDIRECTS = 5;

    private final HttpClient delegate;
    private final HttpClient noRedirects;
    private final CxOAuthClient client;
    private final URI apiBase;
    private final String origin;

    /** Wraps {@code delegate} for the client's configured {@code api_base}. */
    public BearerHttpClient(CxOAuthClient client, HttpClient delegate) {
        this(client, delegate, null);
    }

    /**
     * @param apiBase the API base whose origin gets the token; null: the client's configured
     *        {@code api_base} (required when the client was configured by region or
     *        discovery, where the library derives the API base itself and does not report it)
     */
    public BearerHttpClient(CxOAuthClient client, HttpClient delegate, URI apiBase) {
        this.client = Objects.requireNonNull(client, "client");
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        if (apiBase == null) {
            if (client.apiBase() == null) {
                throw new IllegalArgumentException("the client's API base is not known (no api_base in its "
                        + "configuration; the library derives it from the region or by discovery): pass apiBase, "
                        + "e.g. URI.create(\"https://api.mypurecloud.de\")");
            }
            apiBase = URI.create(client.apiBase());
        }
        this.apiBase = apiBase;
        this.origin = origin(apiBase);
        if (this.origin == null) throw new IllegalArgumentException("apiBase must be an absolute http(s) URI: " + apiBase);
        this.noRedirects = delegate.followRedirects() == Redirect.NEVER ? delegate : copyWithoutRedirects(delegate);
    }

    /** The API base whose origin gets the token. */
    public URI apiBase() {
        return apiBase;
    }

    /** Whether a request for {@code uri} gets the token. */
    public boolean appliesTo(URI uri) {
        return uri != null && origin.equals(origin(uri));
    }

    /** "scheme://host:port" of an absolute http(s) URI, lower-case, default port filled in;
     * null for anything else. */
    static String origin(URI uri) {
        if (uri == null || !uri.isAbsolute() || uri.getHost() == null) return null;
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        int port = uri.getPort();
        if (scheme.equals("http")) {
            if (port == -1) port = 80;
        } else if (scheme.equals("https")) {
            if (port == -1) port = 443;
        } else {
            return null;
        }
        String host = uri.getHost().toLowerCase(Locale.ROOT);
        while (host.endsWith(".")) host = host.substring(0, host.length() - 1);
        return host.isEmpty() ? null : scheme + "://" + host + ":" + port;
    }

    private static HttpClient copyWithoutRedirects(HttpClient d) {
        HttpClient.Builder b = HttpClient.newBuilder().followRedirects(Redirect.NEVER).version(d.version());
        d.cookieHandler().ifPresent(b::cookieHandler);
        d.connectTimeout().ifPresent(b::connectTimeout);
        d.proxy().ifPresent(b::proxy);
        d.authenticator().ifPresent(b::authenticator);
        d.executor().ifPresent(b::executor);
        b.sslContext(d.sslContext());
        b.sslParameters(d.sslParameters());
        return b.build();
    }

    private static HttpRequest withBearer(HttpRequest r, String token) {
        return HttpRequest.newBuilder(r, (n, v) -> !n.equalsIgnoreCase("authorization"))
                .setHeader("Authorization", "Bearer " + token).build();
    }

    private boolean rejected(HttpResponse<?> r, String token) {
        return r.statusCode() == 401 && appliesTo(r.uri())
                && r.request().headers().firstValue("Authorization").orElse("").equals("Bearer " + token);
    }

    private static void discard(HttpResponse<?> r) {
        Object body = r.body();
        if (body instanceof AutoCloseable) {
            try {
                ((AutoCloseable) body).close();
            } catch (Exception ignored) {
                // the response is dropped anyway
            }
        }
    }

    /** The next request of a redirect, or null when {@code r} is not one to follow. */
    private HttpRequest redirect(HttpRequest req, HttpResponse<?> r) {
        int s = r.statusCode();
        if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return null;
        Redirect policy = delegate.followRedirects();
        if (policy == Redirect.NEVER) return null;
        Optional<String> loc = r.headers().firstValue("Location");
        if (loc.isEmpty()) return null;
        URI next;
        try {
            next = req.uri().resolve(loc.get());
        } catch (IllegalArgumentException e) {
            return null;
        }
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) return null;
        if (policy == Redirect.NORMAL && req.uri().getScheme().equalsIgnoreCase("https") && scheme.equals("http")) {
            return null;
        }
        boolean toGet = s == 303 ? !req.method().equals("HEAD") : (s == 301 || s == 302) && req.method().equals("POST");
        HttpRequest.Builder b = HttpRequest.newBuilder(req, (n, v) -> !n.equalsIgnoreCase("authorization")
                && !(toGet && n.equalsIgnoreCase("content-type"))).uri(next);
        if (toGet) b.GET();
        return b.build();
    }

    @Override
    public <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler)
            throws IOException, InterruptedException {
        if (!appliesTo(req.uri())) return delegate.send(req, handler);
        boolean resent = false;
        for (int hop = 0; ; hop++) {
            if (!appliesTo(req.uri())) {
                return delegate.send(req, handler); // left the API origin: no token, no retry
            }
            String token = client.token();
            HttpResponse<T> r = noRedirects.send(withBearer(req, token), handler);
            if (!resent && rejected(r, token)) {
                resent = true;
                client.invalidate(token);
                discard(r);
                token = client.token();
                r = noRedirects.send(withBearer(req, token), handler);
            }
            HttpRequest next = hop < MAX_REDIRECTS ? redirect(req, r) : null;
            if (next == null) return r;
            discard(r);
            req = next;
        }
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest req, HttpResponse.BodyHandler<T> handler) {
        return sendAsync(req, handler, null);
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest req, HttpResponse.BodyHandler<T> handler,
                                                            HttpResponse.PushPromiseHandler<T> push) {
        if (!appliesTo(req.uri())) return delegate.sendAsync(req, handler, push);
        return hopAsync(req, handler, push, 0, false);
    }

    private <T> CompletableFuture<HttpResponse<T>> hopAsync(HttpRequest req, HttpResponse.BodyHandler<T> handler,
                                                            HttpResponse.PushPromiseHandler<T> push, int hop,
                                                            boolean resent) {
        if (!appliesTo(req.uri())) return delegate.sendAsync(req, handler, push);
        return client.tokenAsync().thenCompose(tok -> noRedirects.sendAsync(withBearer(req, tok.value()), handler, push)
                .thenCompose(r -> {
                    if (!resent && rejected(r, tok.value())) {
                        client.invalidate(tok.value());
                        discard(r);
                        return hopAsync(req, handler, push, hop, true);
                    }
                    HttpRequest next = hop < MAX_REDIRECTS ? redirect(req, r) : null;
                    if (next == null) return CompletableFuture.completedFuture(r);
                    discard(r);
                    return hopAsync(next, handler, push, hop + 1, resent);
                }));
    }

    @Override
    public Optional<CookieHandler> cookieHandler() { return delegate.cookieHandler(); }

    @Override
    public Optional<Duration> connectTimeout() { return delegate.connectTimeout(); }

    @Override
    public Redirect followRedirects() { return delegate.followRedirects(); }

    @Override
    public Optional<ProxySelector> proxy() { return delegate.proxy(); }

    @Override
    public SSLContext sslContext() { return delegate.sslContext(); }

    @Override
    public SSLParameters sslParameters() { return delegate.sslParameters(); }

    @Override
    public Optional<Authenticator> authenticator() { return delegate.authenticator(); }

    @Override
    public Version version() { return delegate.version(); }

    @Override
    public Optional<Executor> executor() { return delegate.executor(); }

    @Override
    public java.net.http.WebSocket.Builder newWebSocketBuilder() { return delegate.newWebSocketBuilder(); }
}
