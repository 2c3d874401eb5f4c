package cxoauth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A scripted sequence against the simulator: fetch, 429 then fine, revocation (401 →
// invalidated + fetched): the events arrive once each, in order, without the secret or the id.
func TestOnEventInOrder(t *testing.T) {
	cfg := testConfig()
	cfg.MetricsName = "go-test"
	c := newTestClient(t, cfg)
	events := make(chan Event, 64)
	if err := c.OnEvent(func(e Event) { events <- e }); err != nil {
		t.Fatal(err)
	}
	next := func(want EventKind) Event {
		t.Helper()
		select {
		case e := <-events:
			if e.Kind != want {
				t.Fatalf("event %v (%q), want %v", e.Kind, e.Message, want)
			}
			if strings.Contains(e.Message, testSecret) || strings.Contains(e.Message, testClientID) {
				t.Fatalf("event message %q holds the secret or the client id", e.Message)
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v event", want)
		}
		return Event{}
	}
	ctx := context.Background()
	get := func() {
		t.Helper()
		r, err := c.Get(ctx, "/api/v2/echo")
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET: %v %v", r, err)
		}
	}
	get()
	if e := next(EventTokenFetched); !e.Expires.After(e.Time) {
		t.Fatalf("expiry %v not after %v", e.Expires, e.Time)
	}
	fault(t, map[string]any{"target": "api", "count": 1, "action": map[string]any{"kind": "status", "status": 429}})
	get()
	if e := next(EventRateLimited); e.HTTPStatus != 429 {
		t.Fatalf("RATE_LIMITED with HTTP %d", e.HTTPStatus)
	}
	next(EventRateLimitCleared)
	admin(t, "POST", "revoke", nil, nil)
	get()
	if e := next(EventTokenInvalidated); e.HTTPStatus != 401 {
		t.Fatalf("INVALIDATED with HTTP %d", e.HTTPStatus)
	}
	next(EventTokenFetched)
	// off: no further event
	if err := c.OnEvent(nil); err != nil {
		t.Fatal(err)
	}
	admin(t, "POST", "revoke", nil, nil)
	get()
	select {
	case e := <-events:
		t.Fatalf("event %v after OnEvent(nil)", e.Kind)
	default:
	}
	if EventSharedCacheUp.String() != "SHARED_CACHE_UP" || EventKind(99).String() != "EVENT_99" {
		t.Fatal("EventKind names")
	}
}

func TestMetricsText(t *testing.T) {
	cfg := testConfig()
	cfg.MetricsName = "go-test"
	c := newTestClient(t, cfg)
	for i := 0; i < 3; i++ {
		if _, err := c.Get(context.Background(), "/api/v2/echo"); err != nil {
			t.Fatal(err)
		}
	}
	text, err := c.Metrics("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "cxoauth_http_attempts_total{client=\"go-test\",cause=\"first\"} 3\n") {
		t.Fatalf("no 3 first attempts in:\n%s", text)
	}
	if js, err := c.Metrics("json"); err != nil || !strings.HasPrefix(js, "{\"families\":[") {
		t.Fatalf("json: %q %v", js, err)
	}
	if _, err := c.Metrics("xml"); asError(t, err).Code != CodeInvalidArgument {
		t.Fatalf("xml: %v", err)
	}
	_ = c.Close()
	if _, err := c.Metrics("json"); err == nil {
		t.Fatal("Metrics after Close")
	}
	if err := c.OnEvent(func(Event) {}); err == nil {
		t.Fatal("OnEvent after Close")
	}
}
