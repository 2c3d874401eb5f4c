package cxoauth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Per-call options reach the library: counted by the simulator.
func TestCallOptionsTakeEffect(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRetries = Int(3)
	c := newTestClient(t, cfg)
	ctx := context.Background()
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	fault(t, map[string]any{"target": "api", "count": 2, "action": map[string]any{"kind": "status", "status": 503}})
	before := counters(t)["api_requests"]
	r, err := c.Get(ctx, "/api/v2/echo", WithMaxRetries(0))
	if err != nil || r.StatusCode != 503 {
		t.Fatalf("max_retries 0: %v %v", err, r)
	}
	if n := counters(t)["api_requests"] - before; n != 1 {
		t.Fatalf("max_retries 0: %d API requests", n)
	}
	// Idempotent(true): a POST retried after the second 503
	before = counters(t)["api_requests"]
	r, err = c.Do(ctx, "POST", "/api/v2/echo", nil, []byte("{}"), Idempotent(true), WithDeadline(10*time.Second))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("idempotent POST: %v %v", err, r)
	}
	if n := counters(t)["api_requests"] - before; n != 2 {
		t.Fatalf("idempotent POST: %d API requests", n)
	}
	// ResendAfter401(false): the 401, no new token
	admin(t, "POST", "revoke", nil, nil)
	tokens := counters(t)["token_requests"]
	r, err = c.Get(ctx, "/api/v2/echo", ResendAfter401(false), WithAttemptTimeout(5*time.Second), PacingFailFast())
	if err != nil || r.StatusCode != 401 {
		t.Fatalf("resend_after_401 false: %v %v", err, r)
	}
	if n := counters(t)["token_requests"]; n != tokens {
		t.Fatalf("token requests %d, want %d", n, tokens)
	}
	// without options: one new token and a resend
	if r, err = c.Get(ctx, "/api/v2/echo"); err != nil || r.StatusCode != 200 {
		t.Fatalf("default: %v %v", err, r)
	}
	if n := counters(t)["token_requests"]; n != tokens+1 {
		t.Fatalf("token requests %d, want %d", n, tokens+1)
	}
}

func TestBadCallOptionNamesTheKey(t *testing.T) {
	c := newTestClient(t, testConfig())
	for _, tc := range []struct {
		opt CallOption
		key string
	}{
		{WithMaxRetries(101), "max_retries"},
		{WithMaxRetries(-1), "max_retries"},
		{WithDeadline(0), "deadline_ms"},
		{WithAttemptTimeout(2 * time.Hour), "timeout_ms"},
	} {
		_, err := c.Get(context.Background(), "/api/v2/echo", tc.opt)
		if !IsCode(err, CodeInvalidArgument) || !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Fatalf("%s: %v", tc.key, err)
		}
	}
	if n := counters(t)["api_requests"]; n != 0 {
		t.Fatalf("%d API requests", n)
	}
}
