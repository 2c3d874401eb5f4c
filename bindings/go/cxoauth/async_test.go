package cxoauth

// Tests of the completion-callback calls (oauth_request_async / oauth_get_token_async behind
// Token, TokenWithExpiry and Do), the slog logger, Stats and credential rotation.

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// osThreads is the process's number of OS threads (/proc/self/status "Threads:").
func osThreads(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

func TestManyCallsInFlightTakeNoThreadEach(t *testing.T) {
	c := newTestClient(t, testConfig())
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 64
	fault(t, map[string]any{"target": "api", "count": n, "action": map[string]any{"kind": "delay", "ms": 1000}})
	before := osThreads(t)

	var maxThreads atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // samples the thread count while the calls are in flight
		defer close(sampled)
		for {
			if k := int64(osThreads(t)); k > maxThreads.Load() {
				maxThreads.Store(k)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := c.Get(context.Background(), "/api/v2/echo/slow-"+strconv.Itoa(i))
			if err == nil && r.StatusCode != 200 {
				err = errors.New("status " + strconv.Itoa(r.StatusCode))
			}
			errs <- err
		}(i)
	}
	// Half way through, all 64 are pending in the library: count the threads then too.
	waitFor(t, "64 requests at the simulator", func() bool { return simCounters()["api_requests"] >= n })
	if k := int64(osThreads(t)); k > maxThreads.Load() {
		maxThreads.Store(k)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d requests of 1 s: %v; OS threads %d before, at most %d during", n, elapsed, before, maxThreads.Load())
	if elapsed < 900*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("%d concurrent 1 s requests took %v, want about 1-2 s", n, elapsed)
	}
	// A thread per call would mean more than 64; the runtime's threads, Go's Ms and the race
	// detector's are a couple of dozen at most.
	if m := maxThreads.Load(); m >= 40 || m-int64(before) >= 16 {
		t.Fatalf("OS threads went from %d to %d during %d calls: a thread per call?", before, m, n)
	}
	if k := counters(t); k["api_requests"] != n || k["token_requests"] != 1 {
		t.Fatalf("counters %v", k)
	}
}

func TestContextCancelEndsManyPendingCalls(t *testing.T) {
	c := newTestClient(t, testConfig())
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	fault(t, map[string]any{"target": "api", "count": n, "path_prefix": "/api/v2/echo/slow",
		"action": map[string]any{"kind": "delay", "ms": 5000}})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Get(ctx, "/api/v2/echo/slow")
			errs <- err
		}()
	}
	waitFor(t, "the slow requests to arrive", func() bool { return simCounters()["api_requests"] >= n })
	start := time.Now()
	cancel()
	for i := 0; i < n; i++ {
		err := <-errs
		if !errors.Is(err, context.Canceled) || !IsCode(err, CodeCancelled) {
			t.Fatalf("want a CodeCancelled error wrapping context.Canceled, got %v", err)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("cancellation took %v", el)
	}
	// Cancelled with a deadline while the token itself is slow.
	if err := c.InvalidateToken(mustToken(t, c)); err != nil {
		t.Fatal(err)
	}
	fault(t, map[string]any{"target": "token", "count": 1, "action": map[string]any{"kind": "delay", "ms": 1500}})
	dctx, dcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer dcancel()
	if _, _, err := c.TokenWithExpiry(dctx); !errors.Is(err, context.DeadlineExceeded) || !IsCode(err, CodeCancelled) {
		t.Fatalf("token with deadline: %v", err)
	}
	// The client still works, and the calls freed everything (Close frees the native client).
	resetSim(t)
	if r, err := c.Get(context.Background(), "/api/v2/organizations/me"); err != nil || r.StatusCode != 200 {
		t.Fatalf("after cancel: %v", err)
	}
}

func mustToken(t *testing.T, c *Client) string {
	t.Helper()
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRejectedCallsReturnAtOnce(t *testing.T) {
	c := newTestClient(t, testConfig())
	_, err := c.Get(context.Background(), "https://evil.example/x")
	if e := asError(t, err); e.Code != CodeInvalidArgument || e.Message == "" {
		t.Fatalf("other host: %v", err)
	}
	_ = c.Close()
	if _, err := c.Get(context.Background(), "/api/v2/organizations/me"); !IsCode(err, CodeClosed) || !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// recordHandler is a slog.Handler keeping the records it gets.
type recordHandler struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) records() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.recs...)
}

func (h *recordHandler) find(level slog.Level, substr string) bool {
	for _, r := range h.records() {
		if r.Level == level && strings.Contains(r.Message, substr) {
			return true
		}
	}
	return false
}

func TestSetLoggerReceivesLibraryLines(t *testing.T) {
	t.Cleanup(func() { SetLogger(nil) })
	h := &recordHandler{level: slog.LevelDebug}
	SetLogger(slog.New(h))
	c := newTestClient(t, testConfig())
	tok := mustToken(t, c)
	waitFor(t, "an info record of the token fetch", func() bool { return h.find(slog.LevelInfo, "token fetched") })
	for _, r := range h.records() {
		attr := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "logger" {
				attr = a.Value.String()
			}
			return true
		})
		if attr != "cxoauth" {
			t.Errorf("record %q without logger=cxoauth", r.Message)
		}
		if strings.Contains(r.Message, tok) || strings.Contains(r.Message, testSecret) {
			t.Errorf("record shows a secret: %q", r.Message)
		}
	}

	// A failed fetch is an error record; a handler at Error level gets it, and no info lines.
	eh := &recordHandler{level: slog.LevelError}
	SetLogger(slog.New(eh))
	cfg := testConfig()
	cfg.ClientSecret = "Wr0ngSecretValue"
	bad, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Token(context.Background()); !IsCode(err, CodeAuth) {
		t.Fatalf("wrong secret: %v", err)
	}
	good, err := NewClient(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	_ = mustToken(t, good)
	waitFor(t, "an error record of the failed fetch", func() bool { return eh.find(slog.LevelError, "failed") })
	for _, r := range eh.records() {
		if r.Level < slog.LevelError {
			t.Errorf("record below the handler's level: %v %q", r.Level, r.Message)
		}
		if strings.Contains(r.Message, "Wr0ngSecretValue") {
			t.Errorf("record shows the secret: %q", r.Message)
		}
	}

	// nil turns it off.
	SetLogger(nil)
	n := len(h.records()) + len(eh.records())
	other, err := NewClient(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_ = mustToken(t, other)
	if m := len(h.records()) + len(eh.records()); m != n {
		t.Fatalf("%d records after SetLogger(nil)", m-n)
	}
}

func TestStats(t *testing.T) {
	c := newTestClient(t, testConfig())
	s, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.TokenFetches != 0 || s.Requests != 0 || s.TokenExpiresUnixMS != nil || s.LastError != nil || !s.TokenExpires().IsZero() {
		t.Fatalf("fresh client: %+v", s)
	}
	_, exp, err := c.TokenWithExpiry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = mustToken(t, c) // from the cache
	for i := 0; i < 2; i++ {
		if _, err := c.Get(context.Background(), "/api/v2/organizations/me"); err != nil {
			t.Fatal(err)
		}
	}
	simtestRevoke(t) // the next request gets a 401, a new token and one retry
	if r, err := c.Get(context.Background(), "/api/v2/organizations/me"); err != nil || r.StatusCode != 200 {
		t.Fatalf("after revoke: %v", err)
	}
	if s, err = c.Stats(); err != nil {
		t.Fatal(err)
	}
	if s.TokenFetches != 2 || s.TokenFetchFailures != 0 || s.Requests != 3 || s.Retries.Unauthorized != 1 ||
		s.Retries.RateLimited != 0 || s.TokenCacheHits < 1 || s.LastError != nil || s.RateLimitedUntilUnixMS != nil {
		t.Fatalf("stats %+v", s)
	}
	if s.TokenExpires().Before(exp) {
		t.Fatalf("token expiry %v before the first token's %v", s.TokenExpires(), exp)
	}
	raw, err := c.StatsJSON()
	if err != nil || !strings.Contains(raw, `"token_fetches":2`) {
		t.Fatalf("StatsJSON %q %v", raw, err)
	}

	cfg := testConfig()
	cfg.ClientSecret = "Wr0ngSecretValue"
	bad := newTestClient(t, cfg)
	if _, err := bad.Token(context.Background()); !IsCode(err, CodeAuth) {
		t.Fatal(err)
	}
	if s, err = bad.Stats(); err != nil {
		t.Fatal(err)
	}
	if s.TokenFetchFailures != 1 || s.LastError == nil || s.LastError.Code != CodeAuth ||
		time.Since(s.LastError.Time()) > time.Minute || strings.Contains(s.LastError.Message, "Wr0ngSecretValue") {
		t.Fatalf("failed fetch: %+v %+v", s, s.LastError)
	}
	_ = c.Close()
	if _, err := c.Stats(); !IsCode(err, CodeClosed) {
		t.Fatalf("Stats after Close: %v", err)
	}
}

func simtestRevoke(t *testing.T) { t.Helper(); admin(t, "POST", "revoke", nil, nil) }

func TestSetCredentialsRotation(t *testing.T) {
	resetSim(t)
	admin(t, "POST", "clients", map[string]any{"client_id": "rotated-client", "client_secret": "rotated: secret"}, nil)
	cfg := testConfig()
	cfg.ClientSecret = "Wr0ngSecretValue"
	c := newTestClient(t, cfg)
	if _, err := c.Token(context.Background()); !IsCode(err, CodeAuth) {
		t.Fatalf("wrong secret: %v", err)
	}
	// The remembered failure of the old credentials does not hold the new ones back.
	if err := c.SetCredentials("rotated-client", "rotated: secret"); err != nil {
		t.Fatal(err)
	}
	tok1 := mustToken(t, c)
	// Rotating again keeps the cached token until it is invalidated.
	if err := c.SetCredentials(testClientID, testSecret); err != nil {
		t.Fatal(err)
	}
	if tok := mustToken(t, c); tok != tok1 {
		t.Fatal("the cached token changed before it was invalidated")
	}
	if err := c.InvalidateToken(tok1); err != nil {
		t.Fatal(err)
	}
	tok2 := mustToken(t, c)
	if tok2 == tok1 {
		t.Fatal("no new token after invalidation")
	}
	if k := counters(t); k["token_requests"] != 3 {
		t.Fatalf("token_requests %v, want 3 (failed, rotated, rotated back)", k)
	}
	if r, err := c.Get(context.Background(), "/api/v2/organizations/me"); err != nil || r.StatusCode != 200 {
		t.Fatalf("request after rotation: %v", err)
	}

	if err := c.SetCredentials("a\x00b", "x"); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("NUL: %v", err)
	}
	// A generic client's grant has no access key.
	if err := c.SetAccessKey("id", "secret", "key", "key-secret"); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("SetAccessKey on a generic client: %v", err)
	}
	_ = c.Close()
	if err := c.SetCredentials("x", "y"); !IsCode(err, CodeClosed) || !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
