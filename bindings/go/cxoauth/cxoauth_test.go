package cxoauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *cxoauth.Error, got %T: %v", err, err)
	}
	return e
}

func decode(t *testing.T, r *Response) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
	return m
}

func TestVersion(t *testing.T) {
	if v := Version(); strings.Count(v, ".") != 2 {
		t.Fatalf("version %q", v)
	}
}

func TestTokenIsCached(t *testing.T) {
	c := newTestClient(t, testConfig())
	t1, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if t1 != t2 || len(t1) < 10 {
		t.Fatalf("tokens differ or too short (lengths %d, %d)", len(t1), len(t2))
	}
	if n := counters(t)["token_requests"]; n != 1 {
		t.Fatalf("token_requests = %d, want 1", n)
	}
}

func TestNewClientJSON(t *testing.T) {
	resetSim(t)
	b, err := json.Marshal(map[string]any{
		"token_url": simBase + "/oauth/token", "api_base": simBase,
		"client_id": testClientID, "client_secret": testSecret, "client_auth": "body",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClientJSON(string(b))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConfigJSONAndRedaction(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRetries = Int(0)
	cfg.Extra = map[string]any{"deadline_ms": 5000}
	b, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["max_retries"] != float64(0) || m["deadline_ms"] != float64(5000) || m["client_secret"] != testSecret {
		t.Fatalf("config JSON: unexpected %v keys", len(m))
	}
	if _, ok := m["timeout_ms"]; ok {
		t.Fatal("zero TimeoutMS must be omitted")
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, testSecret) || !strings.Contains(s, "redacted") {
			t.Fatal("Config formatting shows the secret or does not redact it")
		}
	}
	c := newTestClient(t, cfg)
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRequestWithHeadersAndBody(t *testing.T) {
	c := newTestClient(t, testConfig())
	h := http.Header{}
	h.Set("X-Custom", "hello")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	h.Set("Content-Type", "application/json")
	r, err := c.Do(context.Background(), "POST", "/api/v2/echo/x?y=1", h, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, r.Body)
	}
	v := decode(t, r)
	hdrs := v["headers"].(map[string]any)
	if v["method"] != "POST" || v["path"] != "/api/v2/echo/x" || v["query"] != "y=1" {
		t.Fatalf("echo: %s", r.Body)
	}
	if hdrs["x-custom"] != "hello" || hdrs["x-multi"] != "a, b" || hdrs["content-type"] != "application/json" {
		t.Fatalf("echoed headers: %v", hdrs)
	}
	if v["body"] != `{"a":1}` || v["body_len"] != float64(7) {
		t.Fatalf("echoed body: %v", v["body"])
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if r.Header.Get("ININ-Correlation-Id") == "" || r.Header.Get("Content-Length") == "" || len(r.Header) < 3 {
		t.Fatalf("headers not copied: %v", r.Header)
	}
	// Empty body and no headers.
	r, err = c.Get(context.Background(), "/api/v2/organizations/me")
	if err != nil || r.StatusCode != 200 || decode(t, r)["name"] != "Simulated Org" {
		t.Fatalf("organizations/me: %v %v", err, r)
	}
	// An absolute URL on the API host is accepted.
	r, err = c.Do(context.Background(), "GET", simBase+"/api/v2/tokens/me", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id := decode(t, r)["OAuthClient"].(map[string]any)["id"]; id != testClientID {
		t.Fatalf("tokens/me client id %v", id)
	}
}

func TestAPIErrorIsAResponse(t *testing.T) {
	c := newTestClient(t, testConfig())
	r, err := c.Get(context.Background(), "/api/v2/users/me")
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 400 || decode(t, r)["code"] != "bad.request" {
		t.Fatalf("users/me: %d %s", r.StatusCode, r.Body)
	}
}

func TestInvalidClient(t *testing.T) {
	const wrong = "Wr0ngSecretValue"
	cfg := testConfig()
	cfg.ClientSecret = wrong
	c := newTestClient(t, cfg)
	_, err := c.Token(context.Background())
	e := asError(t, err)
	if e.Code != CodeAuth || e.OAuthCode != "invalid_client" || e.HTTPStatus != 401 {
		t.Fatalf("got code=%v oauth=%q http=%d", e.Code, e.OAuthCode, e.HTTPStatus)
	}
	if !IsCode(err, CodeAuth) || CodeOf(err) != CodeAuth || IsCode(err, CodeConfig) {
		t.Fatal("IsCode/CodeOf")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(e.Message, wrong) {
		t.Fatal("the error message contains the secret")
	}
	// Requests fail the same way (no response without a token).
	_, err = c.Get(context.Background(), "/api/v2/organizations/me")
	if !IsCode(err, CodeAuth) {
		t.Fatalf("request: %v", err)
	}
	if counters(t)["api_requests"] != 0 {
		t.Fatal("an API request was made without a token")
	}
}

func TestTokenEndpointFault401IsAuth(t *testing.T) {
	c := newTestClient(t, testConfig())
	fault(t, map[string]any{"target": "token", "count": 1, "action": map[string]any{"kind": "status", "status": 401}})
	_, err := c.Token(context.Background())
	if e := asError(t, err); e.Code != CodeAuth || e.HTTPStatus != 401 {
		t.Fatalf("got %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	_, err := NewClientJSON(`{"regoin":"eu-west-1"}`)
	if e := asError(t, err); e.Code != CodeConfig || !strings.Contains(e.Message, "regoin") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = NewClient(Config{Region: "eu-west-1", ClientID: "a", ClientSecret: "b", ClientAuth: "bogus"})
	if !IsCode(err, CodeConfig) || !strings.Contains(err.Error(), "client_auth") {
		t.Fatalf("bad client_auth: %v", err)
	}
	_, err = NewClient(Config{Region: "eu-west-1", ClientID: "a", ClientSecret: "b", TimeoutMS: -1})
	if !IsCode(err, CodeConfig) {
		t.Fatalf("negative timeout_ms: %v", err)
	}
	_, err = NewClient(Config{Region: "eu-west-1", ClientID: "a", ClientSecret: "b", Extra: map[string]any{"nope": 1}})
	if !IsCode(err, CodeConfig) {
		t.Fatalf("unknown extra key: %v", err)
	}
	_, err = NewClient(Config{TokenURL: "http://example.com/oauth/token", APIBase: "http://example.com", ClientID: "a", ClientSecret: "b"})
	if !IsCode(err, CodeConfig) {
		t.Fatalf("plain http to a non-loopback host must be refused: %v", err)
	}
	if _, err = NewClientJSON("not json"); !IsCode(err, CodeConfig) {
		t.Fatalf("not json: %v", err)
	}
	if _, err = NewClientJSON("{}\x00"); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("NUL: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	c := newTestClient(t, testConfig())
	ctx := context.Background()
	if _, err := c.Get(ctx, "https://evil.example/api/v2/x"); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("other host: %v", err)
	}
	if _, err := c.Do(ctx, "GET", "/api/v2/echo", http.Header{"X": {"a\r\nInjected: 1"}}, nil); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("CRLF header: %v", err)
	}
	if _, err := c.Do(ctx, "GET", "/api/v2/echo", http.Header{"Authorization": {"Bearer x"}}, nil); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("Authorization header: %v", err)
	}
	if _, err := c.Do(ctx, "GET", "/api/v2/echo", http.Header{"X": {"a\x00b"}}, nil); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("NUL header: %v", err)
	}
	if _, err := c.Do(ctx, "GE T", "/api/v2/echo", nil, nil); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("bad method: %v", err)
	}
	if n := counters(t)["api_requests"]; n != 0 {
		t.Fatalf("api_requests = %d, want 0", n)
	}
}

func Test429RetryAfterThenSuccess(t *testing.T) {
	c := newTestClient(t, testConfig())
	fault(t, map[string]any{"target": "api", "count": 1,
		"action": map[string]any{"kind": "status", "status": 429, "retry_after": "1"}})
	start := time.Now()
	r, err := c.Get(context.Background(), "/api/v2/organizations/me")
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("Retry-After not honoured (%v)", el)
	}
	if n := counters(t)["api_requests"]; n != 2 {
		t.Fatalf("api_requests = %d, want 2", n)
	}
}

func TestRevokedTokenIsRefreshedOnce(t *testing.T) {
	c := newTestClient(t, testConfig())
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	admin(t, "POST", "revoke", nil, nil)
	r, err := c.Get(context.Background(), "/api/v2/organizations/me")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("after revoke: %v %v", err, r)
	}
	if n := counters(t)["token_requests"]; n != 2 {
		t.Fatalf("token_requests = %d, want 2", n)
	}
}

func TestMalformedTokenReplyIsProtocol(t *testing.T) {
	c := newTestClient(t, testConfig())
	fault(t, map[string]any{"target": "token", "count": 1,
		"action": map[string]any{"kind": "token_reply", "status": 200, "body": "not json"}})
	if _, err := c.Token(context.Background()); !IsCode(err, CodeProtocol) {
		t.Fatalf("got %v", err)
	}
}

func slowFault(t *testing.T, target, prefix string) {
	f := map[string]any{"target": target, "count": 1, "action": map[string]any{"kind": "delay", "ms": 3000}}
	if prefix != "" {
		f["path_prefix"] = prefix
	}
	fault(t, f)
}

func TestContextCancelAbortsInFlightCall(t *testing.T) {
	c := newTestClient(t, testConfig())
	if _, err := c.Token(context.Background()); err != nil { // the token is not what is slow
		t.Fatal(err)
	}
	slowFault(t, "api", "/api/v2/echo/slow")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if !poll(func() bool { return simCounters()["api_requests"] >= 1 }) {
			t.Error("the slow request did not arrive")
		}
		cancel()
	}()
	start := time.Now()
	_, err := c.Get(ctx, "/api/v2/echo/slow")
	el := time.Since(start)
	if !errors.Is(err, context.Canceled) || !IsCode(err, CodeCancelled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if el > 1500*time.Millisecond {
		t.Fatalf("cancellation was not prompt: %v", el)
	}
	// The client still works afterwards.
	if r, err := c.Get(context.Background(), "/api/v2/organizations/me"); err != nil || r.StatusCode != 200 {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestContextDeadline(t *testing.T) {
	c := newTestClient(t, testConfig())
	slowFault(t, "api", "/api/v2/echo/slow")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Get(ctx, "/api/v2/echo/slow")
	if !errors.Is(err, context.DeadlineExceeded) || !IsCode(err, CodeCancelled) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("deadline not prompt: %v", el)
	}
}

func TestContextCancelAbortsTokenRequest(t *testing.T) {
	c := newTestClient(t, testConfig())
	slowFault(t, "token", "")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if !poll(func() bool { return simCounters()["token_requests"] >= 1 }) {
			t.Error("the slow token request did not arrive")
		}
		cancel()
	}()
	start := time.Now()
	_, err := c.Token(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("cancellation was not prompt: %v", el)
	}
}

func TestAlreadyCancelledContext(t *testing.T) {
	c := newTestClient(t, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "/api/v2/organizations/me"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if k := counters(t); k["api_requests"]+k["token_requests"] != 0 {
		t.Fatalf("requests were made: %v", k)
	}
}

func Test32GoroutinesShareOneTokenRequest(t *testing.T) {
	c := newTestClient(t, testConfig())
	const goroutines, calls = 32, 4
	start := make(chan struct{})
	errs := make(chan error, goroutines*calls)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; i < calls; i++ {
				if (g+i)%2 == 0 {
					if tok, err := c.Token(context.Background()); err != nil || tok == "" {
						errs <- fmt.Errorf("token: %v", err)
					}
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				r, err := c.Do(ctx, "POST", "/api/v2/echo/g", http.Header{"X-G": {fmt.Sprint(g)}}, []byte(fmt.Sprint(i)))
				cancel()
				var echo struct{ Headers map[string]string }
				if err != nil {
					errs <- err
				} else if json.Unmarshal(r.Body, &echo); r.StatusCode != 200 || echo.Headers["x-g"] != fmt.Sprint(g) {
					errs <- fmt.Errorf("status %d: %s", r.StatusCode, r.Body)
				}
			}
		}(g)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	k := counters(t)
	if k["token_requests"] != 1 {
		t.Fatalf("token_requests = %d, want 1", k["token_requests"])
	}
	if k["api_requests"] != goroutines*calls/2 {
		t.Fatalf("api_requests = %d, want %d", k["api_requests"], goroutines*calls/2)
	}
}

func TestCloseAbortsCallsInFlight(t *testing.T) {
	c := newTestClient(t, testConfig())
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 4
	fault(t, map[string]any{"target": "api", "count": n, "path_prefix": "/api/v2/echo/slow",
		"action": map[string]any{"kind": "delay", "ms": 5000}})
	done := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Get(context.Background(), "/api/v2/echo/slow")
			done <- err
		}()
	}
	waitFor(t, "the slow requests to arrive", func() bool { return counters(t)["api_requests"] >= n })
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("Close blocked: %v", el)
	}
	for i := 0; i < n; i++ {
		err := <-done
		if el := time.Since(start); el > time.Second {
			t.Fatalf("Close did not abort the calls promptly: %v", el)
		}
		if !IsCode(err, CodeCancelled) || !errors.Is(err, ErrClosed) {
			t.Fatalf("in-flight call: %v", err)
		}
	}
	// Later calls fail at once with CodeClosed; Close again is fine.
	if _, err := c.Get(context.Background(), "/api/v2/organizations/me"); !IsCode(err, CodeClosed) || !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseAbortsTokenRequestInFlight(t *testing.T) {
	c := newTestClient(t, testConfig())
	fault(t, map[string]any{"target": "token", "count": 1, "action": map[string]any{"kind": "delay", "ms": 5000}})
	const n = 3
	done := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Token(context.Background())
			done <- err
		}()
	}
	waitFor(t, "the slow token request to arrive", func() bool { return counters(t)["token_requests"] >= 1 })
	start := time.Now()
	_ = c.Close()
	for i := 0; i < n; i++ {
		err := <-done
		if el := time.Since(start); el > time.Second {
			t.Fatalf("Close did not abort the token request promptly: %v", el)
		}
		// A goroutine that had not yet entered the library when Close ran gets CodeClosed.
		if !(IsCode(err, CodeCancelled) || IsCode(err, CodeClosed)) || !errors.Is(err, ErrClosed) {
			t.Fatalf("in-flight Token: %v", err)
		}
	}
	if _, err := c.Token(context.Background()); !IsCode(err, CodeClosed) {
		t.Fatalf("Token after Close: %v", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	c := newTestClient(t, testConfig())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrClosed) || !IsCode(err, CodeClosed) {
		t.Fatalf("Token after Close: %v", err)
	}
	if _, err := c.Get(context.Background(), "/api/v2/organizations/me"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
	hc := &http.Client{Transport: c.Transport()}
	if _, err := hc.Get(simBase + "/api/v2/organizations/me"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Transport after Close: %v", err)
	}
	if _, err := c.TokenSource(nil).Token(); !errors.Is(err, ErrClosed) {
		t.Fatalf("TokenSource after Close: %v", err)
	}
	var nilClient *Client
	if _, err := nilClient.Token(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("nil client: %v", err)
	}
	if counters(t)["token_requests"] != 0 {
		t.Fatal("a closed client made a request")
	}
}

func TestCloseConcurrentWithCalls(t *testing.T) {
	c := newTestClient(t, testConfig())
	var wg sync.WaitGroup
	started := make(chan struct{}, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := c.Get(context.Background(), "/api/v2/organizations/me")
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					if !errors.Is(err, ErrClosed) || !(IsCode(err, CodeCancelled) || IsCode(err, CodeClosed)) {
						t.Errorf("unexpected error: %v", err)
					}
					return
				}
			}
		}()
	}
	for g := 0; g < 16; g++ {
		<-started
	}
	var cw sync.WaitGroup
	for i := 0; i < 3; i++ { // concurrent Close calls are fine too
		cw.Add(1)
		go func() { defer cw.Done(); _ = c.Close() }()
	}
	cw.Wait()
	wg.Wait()
}

func TestFinalizerFreesUnclosedClient(t *testing.T) {
	resetSim(t)
	func() {
		for i := 0; i < 5; i++ {
			c, err := NewClient(testConfig())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}()
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
}

func TestRoundTripper(t *testing.T) {
	c := newTestClient(t, testConfig())
	hc := &http.Client{Transport: c.Transport(), Timeout: 30 * time.Second}

	resp, err := hc.Get(simBase + "/api/v2/organizations/me")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Simulated Org") {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Inin-Correlation-Id") == "" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("response headers: %v", resp.Header)
	}

	req, _ := http.NewRequest("PUT", simBase+"/api/v2/echo/rt?q=1", strings.NewReader("payload"))
	req.Header.Set("X-Custom", "rt")
	req.Header.Set("Authorization", "Bearer caller-value") // dropped: the library sets it
	resp, err = NewTransport(c).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	var echo map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := echo["headers"].(map[string]any)
	if echo["method"] != "PUT" || echo["query"] != "q=1" || echo["body"] != "payload" || h["x-custom"] != "rt" {
		t.Fatalf("echo: %v", echo)
	}
	if strings.Contains(fmt.Sprint(h["authorization"]), "caller-value") {
		t.Fatal("the caller's Authorization header was sent")
	}

	// API errors are responses, not errors.
	resp, err = hc.Get(simBase + "/api/v2/users/me")
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("users/me: %v", err)
	}
	resp.Body.Close()

	// Another host is refused before anything is sent.
	_, err = hc.Get("http://127.0.0.2:1/api/v2/organizations/me")
	if !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("other host: %v", err)
	}

	// The request context cancels the call.
	slowFault(t, "api", "/api/v2/echo/slow")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", simBase+"/api/v2/echo/slow", nil)
	if _, err = hc.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context: %v", err)
	}
	if n := counters(t)["token_requests"]; n != 1 {
		t.Fatalf("token_requests = %d, want 1", n)
	}
}

func TestTokenSource(t *testing.T) {
	c := newTestClient(t, testConfig())
	ts := c.TokenSource(context.Background())
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid() || tok.TokenType != "Bearer" || tok.Type() != "Bearer" {
		t.Fatalf("token type %q valid %v", tok.TokenType, tok.Valid())
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v", tok, tok, tok)} {
		if strings.Contains(s, tok.AccessToken) {
			t.Fatal("formatting a Token shows the access token")
		}
	}
	req, _ := http.NewRequest("GET", simBase+"/api/v2/tokens/me", nil)
	tok.SetAuthHeader(req)
	if req.Header.Get("Authorization") != "Bearer "+tok.AccessToken {
		t.Fatal("SetAuthHeader")
	}
	// The plain token works against the API with any HTTP client.
	resp, err := adminHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("tokens/me with the token: %d", resp.StatusCode)
	}
	tok2, err := ts.Token()
	if err != nil || tok2.AccessToken != tok.AccessToken {
		t.Fatalf("second token: %v", err)
	}
	if n := counters(t)["token_requests"]; n != 1 {
		t.Fatalf("token_requests = %d, want 1", n)
	}
}

func TestCXoneThroughTheBinding(t *testing.T) {
	c := newTestClient(t, Config{
		Platform:        "cxone",
		Issuer:          simBase,
		ClientID:        testClientID,
		ClientSecret:    testSecret,
		AccessKeyID:     "demo-key",
		AccessKeySecret: "demo-key-secret",
		BackoffBaseMS:   20,
		BackoffMaxMS:    200,
	})
	r, err := c.Get(context.Background(), "/incontactapi/services/v31.0/agents")
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 || decode(t, r)["totalRecords"] != float64(1) {
		t.Fatalf("agents: %d %s", r.StatusCode, r.Body)
	}
}
