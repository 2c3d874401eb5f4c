package cxoauth

// The simulator fixture (internal/simtest): TestMain starts one cxoauth-sim for the package's
// tests; these helpers keep the tests short. Tests reset it and therefore do not run in
// parallel.

import (
	"os"
	"testing"

	"github.com/cxoauth/cxoauth/bindings/go/internal/simtest"
)

const (
	testClientID = simtest.ClientID
	testSecret   = simtest.Secret
)

var simBase string // http://127.0.0.1:PORT

func TestMain(m *testing.M) {
	os.Exit(simtest.Main(&baseSetter{m}))
}

// baseSetter copies simtest.Base into simBase once the simulator runs.
type baseSetter struct{ m *testing.M }

func (b *baseSetter) Run() int { simBase = simtest.Base; return b.m.Run() }

var adminHTTP = simtest.HTTP

func admin(t testing.TB, method, path string, body any, out any) {
	t.Helper()
	simtest.Admin(t, method, path, body, out)
}

func resetSim(t testing.TB) { t.Helper(); simtest.Reset(t) }

func counters(t testing.TB) map[string]int { t.Helper(); return simtest.Counters(t) }

func fault(t testing.TB, f any) { t.Helper(); simtest.Fault(t, f) }

func testConfig() Config {
	return Config{
		TokenURL:      simBase + "/oauth/token",
		APIBase:       simBase,
		ClientID:      testClientID,
		ClientSecret:  testSecret,
		BackoffBaseMS: 20,
		BackoffMaxMS:  200,
	}
}

// newTestClient resets the simulator and returns a client closed at the end of the test.
func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	resetSim(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond (bounded) instead of sleeping blindly.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func poll(cond func() bool) bool { return simtest.Poll(cond) }

func simCounters() map[string]int { return simtest.CountersNoT() }
