package io.github.cxoauth;

import com.sun.jna.Pointer;
import com.sun.jna.StringArray;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import java.lang.ref.Cleaner;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A thread-safe client for one credential set (token cache, connection pool, retry policy):
 * share one per credential set between all threads.
 *
 * <pre>{@code
 * try (CxOAuthClient client = CxOAuthClient.create(Map.of("region", "eu-central-1",
 *         "client_id", id, "client_secret", secret))) {
 *     Response r = client.request("GET", "/api/v2/organizations/me", null, null);
 *     System.out.println(r.status() + " " + r.bodyString());
 * }
 * }</pre>
 *
 * <p><b>Blocking calls</b> ({@link #token()}, {@link #tokenEx()}, {@link #request}) run on the
 * calling thread. <b>Asynchronous calls</b> ({@link #requestAsync}, {@link #tokenAsync}) use
 * the library's completion callbacks: no thread is held per call. Their futures complete on
 * a small shared pool of daemon threads ({@code cxoauth-complete-N}), never on the library's
 * completion thread, so a dependent stage may call the client again, blocking calls
 * included. Cancelling such a future ({@code cancel(true)} or {@code cancel(false)}) cancels
 * the native call through its own cancel token.
 *
 * <p><b>Errors</b> are {@link CxOAuthException}s, one subclass per result code; an HTTP status
 * from the API is a {@link Response}, never an exception. An asynchronous call reports every
 * library error, also one found when the call is submitted (a closed client, an invalid
 * argument), through its future.
 *
 * <p><b>Closing</b> follows the ABI's close-then-free protocol (docs/ABI.md): {@link #close()}
 * never waits; calls in flight end promptly with {@link CancelledException} (a future
 * completes exceptionally with it), calls made afterwards fail with {@link ClosedException};
 * the native client is freed exactly once, by close when no call is in flight, else by the
 * last call to leave. A client that is never closed is closed when it becomes unreachable
 * (a pending asynchronous call keeps its client reachable).
 */
public final class CxOAuthClient implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    /** Pending asynchronous calls by id (the userdata handed to the library). */
    private static final ConcurrentHashMap<Long, Pending<?>> PENDING = new ConcurrentHashMap<>();
    private static final AtomicLong IDS = new AtomicLong();

    private static final Lib.RequestDone REQUEST_DONE = CxOAuthClient::onRequestDone;
    private static final Lib.TokenDone TOKEN_DONE = CxOAuthClient::onTokenDone;

    /** Completes the futures off the library's completion thread. Threads are made on demand
     * and end after 30 s idle; none is tied to a call. */
    private static final ExecutorService COMPLETER;

    static {
        Lib.registerCallbackThreads(REQUEST_DONE, "cxoauth-cb");
        Lib.registerCallbackThreads(TOKEN_DONE, "cxoauth-cb");
        AtomicInteger n = new AtomicInteger();
        COMPLETER = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
                new SynchronousQueue<>(), r -> {
                    Thread t = new Thread(r, "cxoauth-complete-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
    }

    private final Handle handle;
    private final String apiBase;

    private CxOAuthClient(Pointer ptr, String apiBase) {
        this.handle = new Handle(ptr);
        this.apiBase = apiBase;
        CLEANER.register(this, handle);
    }

    /**
     * Creates a client from a JSON object (keys: {@link CxOAuthConfig}, the README's
     * configuration table); null, {@code ""} or {@code "{}"}: everything from the environment.
     * Makes no network request.
     *
     * @throws ConfigException naming the key that is wrong or missing
     */
    public static CxOAuthClient create(String configJson) {
        String apiBase = null;
        if (configJson != null && !configJson.isBlank()) {
            try {
                Object doc = Json.parse(configJson);
                if (doc instanceof Map && ((Map<?, ?>) doc).get("api_base") instanceof String) {
                    apiBase = (String) ((Map<?, ?>) doc).get("api_base");
                }
            } catch (IllegalArgumentException malformed) {
                // the library reports it, as a ConfigException
            }
        }
        return createNative(configJson, apiBase);
    }

    /** Creates a client from a map of configuration keys (library names, e.g. {@code
     * "token_url"}) to String, Number or Boolean values. */
    public static CxOAuthClient create(Map<String, Object> config) {
        if (config == null) return createNative(null, null);
        Object api = config.get("api_base");
        return createNative(Json.write(config), api instanceof String ? (String) api : null);
    }

    /** Creates a client from a typed configuration. */
    public static CxOAuthClient create(CxOAuthConfig config) {
        return createNative(config.toJson(), config.apiBase());
    }

    private static CxOAuthClient createNative(String json, String apiBase) {
        Lib.Api lib = Lib.api();
        NativeLog.ensureInstalled();
        PointerByReference out = new PointerByReference();
        PointerByReference err = new PointerByReference();
        int rc = lib.oauth_client_new(json == null ? null : Lib.cstr(json, "the configuration"), out, err);
        if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, err.getValue());
        return new CxOAuthClient(out.getValue(), apiBase);
    }

    /** The {@code api_base} this client was configured with, or null (the library derives it
     * from a Genesys region or CXone discovery, and does not report it). */
    public String apiBase() {
        return apiBase;
    }

    /** A valid access token (without "Bearer "): the cached one, or a new one. */
    public String token() {
        Pointer c = handle.enter();
        try {
            PointerByReference out = new PointerByReference();
            PointerByReference err = new PointerByReference();
            int rc = Lib.api().oauth_get_token(c, out, err);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, err.getValue());
            return takeString(out.getValue());
        } finally {
            handle.leave();
        }
    }

    /** A valid access token and its expiry. */
    public Token tokenEx() {
        Pointer c = handle.enter();
        try {
            PointerByReference out = new PointerByReference();
            LongByReference expires = new LongByReference();
            PointerByReference err = new PointerByReference();
            int rc = Lib.api().oauth_get_token_ex(c, null, out, expires, err);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, err.getValue());
            return new Token(takeString(out.getValue()), Instant.ofEpochMilli(expires.getValue()));
        } finally {
            handle.leave();
        }
    }

    /**
     * Sends an authenticated API request and returns the final response (any HTTP status,
     * after the library's retry policy: 401 → one new token and resend, 429 → Retry-After).
     *
     * @param method an HTTP method ({@code "GET"}, {@code "POST"}, ...)
     * @param pathOrUrl a path joined to the API base, or an absolute URL on the API origin
     *        (any other origin is refused: the token never goes elsewhere)
     * @param headers extra headers, or null
     * @param body the request body, or null
     */
    public Response request(String method, String pathOrUrl, Map<String, String> headers, byte[] body) {
        return request(method, pathOrUrl, headers, body, null);
    }

    /**
     * {@link #request(String, String, Map, byte[])} with per-call options
     * ({@code oauth_request_ex}): {@code options} (null: none) override the client's
     * configuration for this call; a bad one is an {@link InvalidArgumentException} naming it.
     */
    public Response request(String method, String pathOrUrl, Map<String, String> headers, byte[] body,
                            CallOptions options) {
        Args a = new Args(method, pathOrUrl, headers, body);
        byte[] opts = CallOptions.nativeJson(options);
        Pointer c = handle.enter();
        try {
            PointerByReference out = new PointerByReference();
            PointerByReference err = new PointerByReference();
            int rc = Lib.api().oauth_request_ex(c, a.method, a.path, a.headers, a.body, a.bodyLen, opts,
                    null, out, err);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, err.getValue());
            return takeResponse(out.getValue());
        } finally {
            handle.leave();
        }
    }

    /** {@link #request} on the library's completion callback: returns at once; the future
     * completes with the response or a {@link CxOAuthException}; cancelling it cancels the
     * call. */
    public CompletableFuture<Response> requestAsync(String method, String pathOrUrl,
                                                    Map<String, String> headers, byte[] body) {
        return requestAsync(method, pathOrUrl, headers, body, null);
    }

    /** {@link #requestAsync(String, String, Map, byte[])} with per-call options
     * ({@code oauth_request_async_ex}; null: none). */
    public CompletableFuture<Response> requestAsync(String method, String pathOrUrl,
                                                    Map<String, String> headers, byte[] body,
                                                    CallOptions options) {
        Args a = new Args(method, pathOrUrl, headers, body);
        byte[] opts = CallOptions.nativeJson(options);
        return submit((c, cancel, id) -> Lib.api().oauth_request_async_ex(c, a.method, a.path,
                a.headers, a.body, a.bodyLen, opts, cancel, REQUEST_DONE, id));
    }

    /** {@link #tokenEx} on the library's completion callback (also for a cached token). */
    public CompletableFuture<Token> tokenAsync() {
        return submit((c, cancel, id) -> Lib.api().oauth_get_token_async(c, cancel, TOKEN_DONE, id));
    }

    /** Reports {@code token} as rejected (your own request got a 401 with it): if it is still
     * the cached token it is dropped and the next call fetches a new one; an older token does
     * nothing. */
    public void invalidate(String token) {
        byte[] t = Lib.cstr(token, "the token");
        Pointer c = handle.enter();
        try {
            int rc = Lib.api().oauth_invalidate_token(c, t);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, null);
        } finally {
            handle.leave();
        }
    }

    /** The client's counters and state as JSON ({@code token_fetches}, {@code requests},
     * {@code retries}, {@code last_error}, ...: see {@code oauth_client_stats}). */
    public String statsJson() {
        Pointer c = handle.enter();
        try {
            PointerByReference out = new PointerByReference();
            PointerByReference err = new PointerByReference();
            int rc = Lib.api().oauth_client_stats(c, out, err);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, err.getValue());
            return takeString(out.getValue());
        } finally {
            handle.leave();
        }
    }

    /** Replaces the client id and secret (secret rotation): the next token fetch uses them;
     * the cached token stays valid until then ({@link #invalidate} it to switch at once). */
    public void setCredentials(String id, String secret) {
        byte[] i = Lib.cstr(id, "the client id");
        byte[] s = Lib.cstr(secret, "the client secret");
        Pointer c = handle.enter();
        try {
            PointerByReference err = new PointerByReference();
            int rc = Lib.api().oauth_client_set_credentials(c, i, s, err);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, err.getValue());
        } finally {
            java.util.Arrays.fill(s, (byte) 0);
            handle.leave();
        }
    }

    /** Ends the calls in flight with {@link CancelledException}; later calls run normally. */
    public void cancelAll() {
        Pointer c = handle.enter();
        try {
            int rc = Lib.api().oauth_cancel(c);
            if (rc != Codes.OK) throw CxOAuthException.fromNative(rc, null);
        } finally {
            handle.leave();
        }
    }

    /** Closes the client (idempotent, from any thread, never waits): calls in flight end with
     * {@link CancelledException}, later calls fail with {@link ClosedException}. */
    @Override
    public void close() {
        handle.close();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return handle.isClosed();
    }

    // --- the close-then-free protocol --------------------------------------------------------

    /** The native handle, the count of calls in flight and the closed flag, under one lock. */
    private static final class Handle implements Runnable {
        private Pointer ptr;
        private int inFlight;
        private boolean closed;

        Handle(Pointer ptr) {
            this.ptr = ptr;
        }

        /** Enter a call: fails at once on a closed client, else counts the call. */
        synchronized Pointer enter() {
            if (closed || ptr == null) {
                throw new ClosedException(Codes.CLOSED, "closed: the client was closed", 0, null, null);
            }
            inFlight++;
            return ptr;
        }

        /** One more reference for a call already entered (a pending asynchronous call). */
        synchronized void enterAgain() {
            inFlight++;
        }

        /** Leave a call: the last call to leave a closed client frees it. */
        void leave() {
            Pointer free = null;
            synchronized (this) {
                inFlight--;
                if (closed && inFlight == 0 && ptr != null) {
                    free = ptr;
                    ptr = null;
                }
            }
            if (free != null) Lib.api().oauth_free(free);
        }

        synchronized boolean isClosed() {
            return closed;
        }

        void close() {
            Pointer free = null;
            synchronized (this) {
                if (closed) return;
                closed = true;
                if (ptr == null) return;
                Lib.api().oauth_close(ptr); // does not block; ends the calls in flight
                if (inFlight == 0) {
                    free = ptr;
                    ptr = null;
                }
            }
            if (free != null) Lib.api().oauth_free(free);
        }

        @Override
        public void run() { // the Cleaner: the client became unreachable without close()
            close();
        }
    }

    // --- asynchronous calls ------------------------------------------------------------------

    @FunctionalInterface
    private interface Submit {
        int call(Pointer client, Pointer cancel, Pointer userdata);
    }

    /** A future whose cancellation cancels its native call. */
    private static final class CallFuture<T> extends CompletableFuture<T> {
        private final Pending<T> pending;

        CallFuture(Pending<T> pending) {
            this.pending = pending;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) pending.cancelNative();
            return cancelled;
        }
    }

    /** One pending call: its future, its client (kept reachable), its cancel token. The token
     * is freed by whichever of the submitting call's return and the completion comes last
     * (oauth_cancel_token_free must not overlap a call given the token), and never while
     * cancelNative uses it. */
    private static final class Pending<T> {
        final CxOAuthClient client;
        final CallFuture<T> future = new CallFuture<>(this);
        private Pointer cancelToken;
        private int tokenRefs = 2;

        Pending(CxOAuthClient client, Pointer cancelToken) {
            this.client = client;
            this.cancelToken = cancelToken;
        }

        synchronized void cancelNative() {
            if (cancelToken != null) Lib.api().oauth_cancel_token_cancel(cancelToken);
        }

        synchronized void releaseToken() {
            if (--tokenRefs == 0 && cancelToken != null) {
                Lib.api().oauth_cancel_token_free(cancelToken);
                cancelToken = null;
            }
        }

        void complete(T value, CxOAuthException error) {
            COMPLETER.execute(() -> {
                if (error != null) {
                    future.completeExceptionally(error);
                } else {
                    future.complete(value);
                }
            });
        }
    }

    private <T> CompletableFuture<T> submit(Submit call) {
        Pointer c;
        try {
            c = handle.enter();
        } catch (ClosedException e) {
            return CompletableFuture.failedFuture(e);
        }
        try {
            PointerByReference tok = new PointerByReference();
            PointerByReference err = new PointerByReference();
            int rc = Lib.api().oauth_cancel_token_new(tok, err);
            if (rc != Codes.OK) return CompletableFuture.failedFuture(CxOAuthException.fromNative(rc, err.getValue()));
            Pending<T> p = new Pending<>(this, tok.getValue());
            long id = IDS.incrementAndGet();
            // Everything the completion needs is set up first: it may run before the
            // submitting call has returned.
            handle.enterAgain();
            PENDING.put(id, p);
            rc = call.call(c, tok.getValue(), new Pointer(id));
            if (rc != Codes.OK) { // rejected: the completion will never run
                PENDING.remove(id);
                p.releaseToken();
                p.releaseToken();
                handle.leave();
                return CompletableFuture.failedFuture(CxOAuthException.fromNative(rc, null));
            }
            p.releaseToken();
            return p.future;
        } finally {
            handle.leave();
        }
    }

    @SuppressWarnings("unchecked")
    private static void onRequestDone(Pointer userdata, int result, Pointer response, Pointer error) {
        Pending<Response> p = null;
        try {
            p = (Pending<Response>) PENDING.remove(Pointer.nativeValue(userdata));
            if (p == null) { // not ours: still free what we were given
                Lib.api().oauth_response_free(response);
                Lib.api().oauth_error_free(error);
                return;
            }
            if (result == Codes.OK) {
                Lib.api().oauth_error_free(error);
                p.complete(takeResponse(response), null);
            } else {
                Lib.api().oauth_response_free(response);
                p.complete(null, CxOAuthException.fromNative(result, error));
            }
        } catch (Throwable t) {
            if (p != null) p.complete(null, new InternalException(Codes.INTERNAL,
                    "internal error: the binding failed to read the result: " + t, 0, null, null));
        } finally {
            if (p != null) {
                p.releaseToken();
                p.client.handle.leave();
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static void onTokenDone(Pointer userdata, int result, Pointer token, long expiresUnixMs, Pointer error) {
        Pending<Token> p = null;
        try {
            p = (Pending<Token>) PENDING.remove(Pointer.nativeValue(userdata));
            if (p == null) {
                Lib.api().oauth_string_free(token);
                Lib.api().oauth_error_free(error);
                return;
            }
            if (result == Codes.OK) {
                Lib.api().oauth_error_free(error);
                p.complete(new Token(takeString(token), Instant.ofEpochMilli(expiresUnixMs)), null);
            } else {
                Lib.api().oauth_string_free(token);
                p.complete(null, CxOAuthException.fromNative(result, error));
            }
        } catch (Throwable t) {
            if (p != null) p.complete(null, new InternalException(Codes.INTERNAL,
                    "internal error: the binding failed to read the result: " + t, 0, null, null));
        } finally {
            if (p != null) {
                p.releaseToken();
                p.client.handle.leave();
            }
        }
    }

    /** The number of asynchronous calls submitted and not yet completed (all clients). */
    static int pendingCalls() {
        return PENDING.size();
    }

    // --- marshalling -------------------------------------------------------------------------

    /** The arguments of a request as C strings, checked before any handle is used. */
    private static final class Args {
        final byte[] method;
        final byte[] path;
        final StringArray headers;
        final byte[] body;
        final long bodyLen;

        Args(String method, String pathOrUrl, Map<String, String> headers, byte[] body) {
            this.method = Lib.cstr(method, "the method");
            this.path = Lib.cstr(pathOrUrl, "the path or URL");
            if (headers == null || headers.isEmpty()) {
                this.headers = null;
            } else {
                String[] lines = new String[headers.size()];
                int i = 0;
                for (Map.Entry<String, String> e : headers.entrySet()) {
                    String name = e.getKey();
                    String value = e.getValue();
                    if (name == null || value == null) throw new NullPointerException("a header name or value is null");
                    Lib.cstr(name, "a header name");
                    Lib.cstr(value, "header " + name);
                    lines[i++] = name + ": " + value;
                }
                this.headers = new StringArray(lines, "UTF-8"); // NULL-terminated
            }
            this.body = body == null || body.length == 0 ? null : body;
            this.bodyLen = this.body == null ? 0 : this.body.length;
        }
    }

    /** Copies a library string and frees it (oauth_string_free overwrites it). */
    private static String takeString(Pointer p) {
        try {
            return Lib.str(p);
        } finally {
            Lib.api().oauth_string_free(p);
        }
    }

    /** Copies a native response into a {@link Response} and frees it. */
    private static Response takeResponse(Pointer r) {
        Lib.Api lib = Lib.api();
        try {
            LongByReference n = new LongByReference();
            Pointer b = lib.oauth_response_body(r, n);
            long len = n.getValue();
            byte[] body = len > 0 && b != null ? b.getByteArray(0, Math.toIntExact(len)) : new byte[0];
            long count = lib.oauth_response_header_count(r);
            List<Map.Entry<String, String>> lines = new ArrayList<>((int) Math.min(count, 1024));
            PointerByReference name = new PointerByReference();
            PointerByReference value = new PointerByReference();
            for (long i = 0; i < count; i++) {
                if (lib.oauth_response_header_at(r, i, name, value) == Codes.OK) {
                    lines.add(new AbstractMap.SimpleImmutableEntry<>(Lib.str(name.getValue()), Lib.str(value.getValue())));
                }
            }
            return new Response(lib.oauth_response_status(r) & 0xffff, body, lines);
        } finally {
            lib.oauth_response_free(r);
        }
    }

    /** For tests and diagnostics: the completer (futures complete on it). */
    static Executor completer() {
        return COMPLETER;
    }
}
