package cxoauth

// Issue 27: the Transport gives the bearer only to the API origin, and a 401 from elsewhere is
// returned as is. The redirect cases use the simulator's
// redirect fault (or a redirecting server of ours as the API origin) and a second real HTTP
// server on 127.0.0.1 as the foreign host.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// foreignHost is a real HTTP server on 127.0.0.1 (another port: another origin) recording
// what reaches it. It answers 401, or with redirectTo set, redirectStatus to that URL.
type foreignHost struct {
	*httptest.Server
	mu             sync.Mutex
	requests       []string // "METHOD /path"
	bearers        []bool   // whether each request carried an Authorization header
	redirectTo     string
	redirectStatus int
}

func newForeignHost(t *testing.T) *foreignHost {
	t.Helper()
	f := &foreignHost{redirectStatus: http.StatusTemporaryRedirect}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.bearers = append(f.bearers, r.Header.Get("Authorization") != "")
		to, status := f.redirectTo, f.redirectStatus
		f.mu.Unlock()
		if to != "" {
			http.Redirect(w, r, to, status)
			return
		}
		w.WriteHeader(http.StatusUnauthorized) // a foreign 401 must not trigger a retry
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *foreignHost) seen() (requests []string, bearers []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...), append([]bool(nil), f.bearers...)
}

func redirectFault(t *testing.T, location string) {
	t.Helper()
	fault(t, map[string]any{"target": "api", "count": 1,
		"action": map[string]any{"kind": "redirect", "location": location}})
}

// sameToken reports whether the client's cached token is still tok (never printing either).
func sameToken(t *testing.T, c *Client, tok string) bool {
	t.Helper()
	now, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return now == tok
}

func TestTransportRedirectToForeign401(t *testing.T) {
	for _, mode := range []string{"Base nil (library)", "Base set"} {
		t.Run(mode, func(t *testing.T) {
			c := newTestClient(t, testConfig())
			other := newForeignHost(t)
			tr := c.Transport()
			if mode == "Base set" {
				tr.Base = http.DefaultTransport
			}
			hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			redirectFault(t, other.URL+"/landing")
			resp, err := hc.Get(simBase + "/api/v2/organizations/me")
			if err != nil {
				t.Fatalf("the redirect to another host was not followed: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Request.URL.String() != other.URL+"/landing" {
				t.Fatalf("got %d from %s, want the foreign 401", resp.StatusCode, resp.Request.URL)
			}
			reqs, bearers := other.seen()
			if fmt.Sprint(reqs) != "[GET /landing]" || fmt.Sprint(bearers) != "[false]" {
				t.Fatalf("the foreign host got %v, with a bearer: %v (want one request, no bearer)", reqs, bearers)
			}
			if !sameToken(t, c, tok) {
				t.Fatal("the still-valid token was invalidated for a foreign 401")
			}
			if n := counters(t); n["token_requests"] != 1 || n["api_requests"] != 1 {
				t.Fatalf("counters %v, want 1 token request and 1 API request", n)
			}
		})
	}
}

func TestTransportWithBaseRedirectedPostToForeign401RunsOnce(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			other := newForeignHost(t)
			api := newForeignHost(t) // our redirecting server is the API origin
			api.redirectTo, api.redirectStatus = other.URL+"/landing", status
			cfg := testConfig()
			cfg.APIBase = api.URL
			c := newTestClient(t, cfg)
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			hc := &http.Client{Transport: &Transport{Client: c, Base: http.DefaultTransport}}
			resp, err := hc.Post(api.URL+"/api/v2/things", "application/json", strings.NewReader(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("status %d, want the foreign 401", resp.StatusCode)
			}
			if reqs, bearers := api.seen(); fmt.Sprint(reqs) != "[POST /api/v2/things]" || fmt.Sprint(bearers) != "[true]" {
				t.Fatalf("the API origin got %v (bearer %v), want one POST with the bearer", reqs, bearers)
			}
			if reqs, bearers := other.seen(); fmt.Sprint(reqs) != "[POST /landing]" || fmt.Sprint(bearers) != "[false]" {
				t.Fatalf("the foreign host got %v (bearer %v), want one POST without a bearer", reqs, bearers)
			}
			if !sameToken(t, c, tok) {
				t.Fatal("the still-valid token was invalidated for a foreign 401")
			}
		})
	}
}

func TestTransportWithBaseOnlyTheAPIOriginGetsTheToken(t *testing.T) {
	c := newTestClient(t, testConfig())
	other := newForeignHost(t)
	hc := &http.Client{Transport: &Transport{Client: c, Base: http.DefaultTransport}}
	for _, u := range []string{other.URL + "/direct",
		strings.Replace(simBase, "127.0.0.1", "localhost", 1) + "/api/v2/organizations/me"} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("%s: %d, want 401 (no token)", u, resp.StatusCode)
		}
	}
	if _, bearers := other.seen(); fmt.Sprint(bearers) != "[false]" {
		t.Fatalf("the foreign host got a bearer: %v", bearers)
	}
	if n := counters(t); n["token_requests"] != 0 {
		t.Fatalf("token_requests = %d: a token was fetched for another origin", n["token_requests"])
	}
}

func TestTransportAPIBaseWhenTheConfigHasNone(t *testing.T) {
	resetSim(t)
	// A region config: the library derives the API base and does not report it.
	c, err := NewClient(Config{Region: "eu-central-1", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.APIBase() != "" {
		t.Fatalf("APIBase() = %q for a region config", c.APIBase())
	}
	other := newForeignHost(t)
	// With Base set and no known API base the Transport refuses rather than guess.
	_, err = (&http.Client{Transport: &Transport{Client: c, Base: http.DefaultTransport}}).Get(other.URL + "/x")
	if !IsCode(err, CodeInvalidArgument) || !strings.Contains(err.Error(), "APIBase") {
		t.Fatalf("unknown API base: %v", err)
	}
	// Transport.APIBase names it: other origins go out untouched (no token, no token fetch).
	tr := &Transport{Client: c, Base: http.DefaultTransport, APIBase: "https://api.mypurecloud.de"}
	resp, err := (&http.Client{Transport: tr}).Get(other.URL + "/y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reqs, bearers := other.seen(); resp.StatusCode != 401 || fmt.Sprint(reqs) != "[GET /y]" || fmt.Sprint(bearers) != "[false]" {
		t.Fatalf("%d %v %v", resp.StatusCode, reqs, bearers)
	}
	// The configured api_base is known, from Config and from a JSON config alike.
	cfg := testConfig()
	if c2, err := NewClient(cfg); err != nil || c2.APIBase() != simBase {
		t.Fatalf("APIBase from Config: %v", err)
	} else {
		c2.Close()
	}
	b, _ := cfg.JSON()
	if c3, err := NewClientJSON(string(b)); err != nil || c3.APIBase() != simBase {
		t.Fatalf("APIBase from JSON: %v", err)
	} else {
		c3.Close()
	}
}

func TestTransportLearnsTheAPIOriginWithoutAPIBase(t *testing.T) {
	// CXone: the library derives the API base (discovery); the binding is not told it.
	c := newTestClient(t, Config{Platform: "cxone", Issuer: simBase, ClientID: testClientID,
		ClientSecret: testSecret, AccessKeyID: "demo-key", AccessKeySecret: "demo-key-secret"})
	if c.APIBase() != "" {
		t.Fatalf("APIBase() = %q", c.APIBase())
	}
	other := newForeignHost(t)
	hc := &http.Client{Transport: c.Transport(), Timeout: 30 * time.Second}
	// A request of the caller's own for another host: refused by the library, nothing sent.
	if _, err := hc.Get(other.URL + "/direct"); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("a request for another host: %v", err)
	}
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	redirectFault(t, other.URL+"/landing")
	resp, err := hc.Get(simBase + "/cxone/incontactapi/services/v31.0/agents")
	if err != nil {
		t.Fatalf("the redirect to another host was not followed: %v", err)
	}
	resp.Body.Close()
	reqs, bearers := other.seen()
	if resp.StatusCode != 401 || fmt.Sprint(reqs) != "[GET /landing]" || fmt.Sprint(bearers) != "[false]" {
		t.Fatalf("%d; the foreign host got %v (bearer %v)", resp.StatusCode, reqs, bearers)
	}
	if !sameToken(t, c, tok) {
		t.Fatal("the still-valid token was invalidated for a foreign 401")
	}
}

func TestOriginOf(t *testing.T) {
	same := []string{"https://API.mypurecloud.de/api/v2/x", "https://api.mypurecloud.de:443/",
		"https://api.mypurecloud.de./x"}
	other := []string{"http://api.mypurecloud.de/api/v2/x", "https://api.mypurecloud.de:8443/",
		"https://api.mypurecloud.de.evil.example/", "https://evil.example/?https://api.mypurecloud.de",
		"ftp://api.mypurecloud.de/", "/relative"}
	api, ok := originOf("https://api.mypurecloud.de")
	if !ok {
		t.Fatal("no origin for the API base")
	}
	for _, u := range same {
		if o, ok := originOf(u); !ok || o != api {
			t.Errorf("%s: %v, want the API origin", u, o)
		}
	}
	for _, u := range other {
		if o, ok := originOf(u); ok && o == api {
			t.Errorf("%s: taken for the API origin", u)
		}
	}
}
