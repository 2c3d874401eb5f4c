package oauth2_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxoauth/cxoauth/bindings/go/cxoauth"
	cxoauth2 "github.com/cxoauth/cxoauth/bindings/go/cxoauth/oauth2"
	"github.com/cxoauth/cxoauth/bindings/go/internal/simtest"
	"golang.org/x/oauth2"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

func newClient(t *testing.T, margin int) *cxoauth.Client {
	t.Helper()
	c, err := cxoauth.NewClient(cxoauth.Config{
		TokenURL:       simtest.Base + "/oauth/token",
		APIBase:        simtest.Base,
		ClientID:       simtest.ClientID,
		ClientSecret:   simtest.Secret,
		RefreshMarginS: cxoauth.Int(margin),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTokenSourceReturnsOAuth2TokenWithExpiry(t *testing.T) {
	simtest.Reset(t)
	simtest.SetTokenLifetime(t, 300)
	c := newClient(t, 60)
	before := time.Now()
	tok, err := cxoauth2.TokenSource(context.Background(), c).Token()
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid() || tok.Type() != "Bearer" || tok.AccessToken == "" {
		t.Fatalf("token: valid %v type %q", tok.Valid(), tok.Type())
	}
	if d := tok.Expiry.Sub(before); d < 299*time.Second || d > 301*time.Second {
		t.Fatalf("Expiry %v from now, want ~300s", d)
	}
	want, _ := c.Token(context.Background())
	if tok.AccessToken != want {
		t.Fatal("not the client's token")
	}
	// A cancelled context aborts the token request (none is cached for a new client).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cxoauth2.TokenSource(ctx, newClient(t, 60)).Token(); !cxoauth.IsCode(err, cxoauth.CodeCancelled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

// recorder is the base transport of the oauth2 clients: it records the status of every API
// request and the token it carried.
type recorder struct {
	mu       sync.Mutex
	statuses map[int]int
	tokens   map[string]bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.statuses[resp.StatusCode]++
	}
	r.tokens[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")] = true
	return resp, err
}

func newRecorder() *recorder { return &recorder{statuses: map[int]int{}, tokens: map[string]bool{}} }

func get(t *testing.T, hc *http.Client) {
	t.Helper()
	resp, err := hc.Get(simtest.Base + "/api/v2/tokens/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// noExpiry hides the expiry, as the binding's TokenSource did before oauth_get_token_ex: the
// control case showing that the simulator does reject a stale token.
type noExpiry struct{ src oauth2.TokenSource }

func (n noExpiry) Token() (*oauth2.Token, error) {
	t, err := n.src.Token()
	if t != nil {
		t = &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType}
	}
	return t, err
}

// With a 3 s token lifetime, oauth2.NewClient over oauth2.ReuseTokenSource(WithExpiry) keeps
// sending valid tokens across several rotations: the cached *oauth2.Token is dropped at its
// Expiry, and the library has a new token by then.
func TestReuseTokenSourceAcrossShortLifetimeSendsNoStaleToken(t *testing.T) {
	simtest.Reset(t)
	simtest.SetTokenLifetime(t, 3)
	c := newClient(t, 1) // the library refreshes 1 s before expiry

	rec, ctl := newRecorder(), newRecorder()
	withBase := func(rt http.RoundTripper) context.Context {
		return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: rt})
	}
	ctx := withBase(rec)
	// oauth2.NewClient wraps the source in ReuseTokenSource itself (10 s early expiry, more
	// than this lifetime); ReuseTokenSourceWithExpiry makes the x/oauth2 cache really reuse
	// the token, until 500 ms before its Expiry.
	reuse := oauth2.ReuseTokenSourceWithExpiry(nil, cxoauth2.TokenSource(ctx, c), 500*time.Millisecond)
	hc := oauth2.NewClient(ctx, reuse)
	hcDefault := oauth2.NewClient(ctx, oauth2.ReuseTokenSource(nil, cxoauth2.TokenSource(ctx, c)))
	// Control: the same, with the Expiry hidden, keeps its first token forever.
	ctlCtx := withBase(ctl)
	hcCtl := oauth2.NewClient(ctlCtx, noExpiry{cxoauth2.TokenSource(ctlCtx, c)})

	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		get(t, hc)
		get(t, hcDefault)
		get(t, hcCtl)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.statuses[200] < 40 || len(rec.statuses) != 1 {
		t.Fatalf("statuses %v: a stale token was sent", rec.statuses)
	}
	if len(rec.tokens) < 3 {
		t.Fatalf("%d distinct tokens in 7 s of 3 s tokens", len(rec.tokens))
	}
	if n := simtest.Counters(t)["token_requests"]; n < 3 || n > 8 {
		t.Fatalf("token_requests = %d, want about one per lifetime (3-8)", n)
	}
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if ctl.statuses[401] == 0 || len(ctl.tokens) != 1 {
		t.Fatalf("control without Expiry: statuses %v, %d tokens: want 401s with one stale token", ctl.statuses, len(ctl.tokens))
	}
}
