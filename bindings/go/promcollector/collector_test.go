package promcollector

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cxoauth/cxoauth/bindings/go/cxoauth"
	"github.com/cxoauth/cxoauth/bindings/go/internal/simtest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// After a fault scenario (one 429, one 503) the registry's families agree with what the
// simulator saw, the histogram's count equals the calls made, and the exposition lints clean.
func TestCollectorAgreesWithTheSimulator(t *testing.T) {
	simtest.Reset(t)
	c, err := cxoauth.NewClient(cxoauth.Config{
		TokenURL: simtest.Base + "/oauth/token", APIBase: simtest.Base,
		ClientID: simtest.ClientID, ClientSecret: simtest.Secret,
		BackoffBaseMS: 20, BackoffMaxMS: 200, MetricsName: "go-prom",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	simtest.Fault(t, map[string]any{"target": "api", "count": 1, "action": map[string]any{"kind": "status", "status": 429}})
	simtest.Fault(t, map[string]any{"target": "api", "count": 1, "action": map[string]any{"kind": "status", "status": 503}})
	const calls = 4
	for i := 0; i < calls; i++ {
		r, err := c.Get(context.Background(), "/api/v2/echo?q=secret-query")
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET: %v %v", r, err)
		}
	}
	seen := simtest.Counters(t)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(c))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	var attempts float64
	for _, m := range byName["cxoauth_http_attempts_total"].GetMetric() {
		if label(m, "client") != "go-prom" {
			t.Fatalf("client label %q", label(m, "client"))
		}
		attempts += m.GetCounter().GetValue()
		if label(m, "cause") == "first" && m.GetCounter().GetValue() != calls {
			t.Fatalf("first attempts %v", m.GetCounter().GetValue())
		}
	}
	if int(attempts) != seen["api_requests"] {
		t.Fatalf("attempts %v, simulator saw %d", attempts, seen["api_requests"])
	}
	hist := byName["http_client_request_duration_seconds"]
	if hist.GetType() != dto.MetricType_HISTOGRAM || len(hist.GetMetric()) != 1 {
		t.Fatalf("latency family: %v", hist)
	}
	h := hist.GetMetric()[0]
	if h.GetHistogram().GetSampleCount() != calls || label(h, "http_response_status_code") != "200" || label(h, "http_request_method") != "GET" {
		t.Fatalf("latency histogram: %v", h)
	}
	if len(h.GetHistogram().GetBucket()) != 14 {
		t.Fatalf("buckets: %v", h.GetHistogram().GetBucket())
	}
	var fetched float64
	for _, m := range byName["cxoauth_token_fetches_total"].GetMetric() {
		if label(m, "outcome") == "ok" {
			fetched = m.GetCounter().GetValue()
		}
	}
	if int(fetched) != seen["token_requests"] {
		t.Fatalf("token fetches %v, simulator saw %d", fetched, seen["token_requests"])
	}
	for _, name := range []string{"cxoauth_token_cache_hits_total", "cxoauth_token_remaining_lifetime_seconds",
		"cxoauth_rate_limited_until_timestamp_seconds", "cxoauth_pacing_wait_seconds_total",
		"cxoauth_token_fetch_duration_seconds"} { // (cxoauth_rate_limit_remaining: only once a reply had rate-limit headers)
		if byName[name] == nil {
			t.Fatalf("no family %s", name)
		}
	}
	// the registry's own exposition: lint-clean, no secret, id or query string
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n == 0 {
		t.Fatalf("count: %d %v", n, err)
	}
	text, _ := c.Metrics("prometheus")
	for _, bad := range []string{simtest.Secret, simtest.ClientID, "secret-query"} {
		if strings.Contains(text, bad) {
			t.Fatalf("%q in the exposition", bad)
		}
	}
	// closed: the scrape reports an error instead of stale numbers
	_ = c.Close()
	if _, err := reg.Gather(); err == nil {
		t.Fatal("no error from a closed client's collector")
	}
}
