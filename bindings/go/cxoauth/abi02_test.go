package cxoauth

// Tests of the ABI 0.2 additions: the typed Config against oauth_config_schema(), token expiry
// (oauth_get_token_ex), oauth_invalidate_token, repeated response headers, and the
// Transport's 401 handling in both modes.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// notExposed lists the schema keys Config intentionally has no field for (Extra still passes
// them). Empty: every key of the library is a typed field.
var notExposed = map[string]string{
	// "key": "why it is not a field",
}

type schemaKey struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Secret     bool        `json:"secret"`
	Properties []schemaKey `json:"properties"` // the sub-keys of an "object" key
}

// schemaKinds are the Go kinds a field of each schema type may have (pointers dereferenced).
var schemaKinds = map[string][]reflect.Kind{
	"string":  {reflect.String},
	"integer": {reflect.Int, reflect.Int64},
	"boolean": {reflect.Bool},
	"number":  {reflect.Float64},
	"object":  {reflect.Struct},
}

// jsonFields maps the JSON names of a struct type's fields to the fields.
func jsonFields(st reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = f
		}
	}
	return fields
}

// checkObjectFields compares the struct type of an "object" key with the key's sub-keys.
func checkObjectFields(t *testing.T, k schemaKey, st reflect.Type) {
	t.Helper()
	if len(k.Properties) == 0 {
		t.Errorf("object key %q has no properties in the schema", k.Name)
	}
	fields := jsonFields(st)
	known := map[string]bool{}
	for _, p := range k.Properties {
		known[p.Name] = true
		f, ok := fields[p.Name]
		if !ok {
			t.Errorf("the library has %s.%s (%s) but %s has no field for it", k.Name, p.Name, p.Type, st.Name())
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if !kindIn(ft.Kind(), schemaKinds[p.Type]) {
			t.Errorf("%s.%s is %s, the schema says %s.%s is %s", st.Name(), f.Name, f.Type, k.Name, p.Name, p.Type)
		}
	}
	for name, f := range fields {
		if !known[name] {
			t.Errorf("%s.%s maps to %s.%s, which the library does not know", st.Name(), f.Name, k.Name, name)
		}
	}
}

func TestConfigCoversSchema(t *testing.T) {
	var schema struct {
		Version string      `json:"version"`
		Keys    []schemaKey `json:"keys"`
	}
	if err := json.Unmarshal([]byte(ConfigSchema()), &schema); err != nil {
		t.Fatalf("oauth_config_schema() is not JSON: %v", err)
	}
	if schema.Version != Version() || len(schema.Keys) < 20 {
		t.Fatalf("schema version %q (library %q), %d keys", schema.Version, Version(), len(schema.Keys))
	}
	fields := jsonFields(reflect.TypeOf(Config{}))
	inSchema := map[string]bool{}
	for _, k := range schema.Keys {
		inSchema[k.Name] = true
		f, ok := fields[k.Name]
		if !ok {
			if _, skip := notExposed[k.Name]; !skip {
				t.Errorf("the library has config key %q (%s) but Config has no field for it", k.Name, k.Type)
			}
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		want, known := schemaKinds[k.Type]
		if !known {
			t.Errorf("schema type %q of %q is not handled by this test", k.Type, k.Name)
		}
		if !kindIn(ft.Kind(), want) {
			t.Errorf("Config.%s is %s, the schema says %q is %s", f.Name, f.Type, k.Name, k.Type)
		} else if k.Type == "object" {
			checkObjectFields(t, k, ft)
		}
		if k.Secret {
			if ft.Kind() != reflect.String {
				t.Errorf("secret key %q is not a string field", k.Name)
				continue
			}
			var cfg Config
			reflect.ValueOf(&cfg).Elem().FieldByName(f.Name).SetString("Secret-Canary-Value")
			if strings.Contains(cfg.String(), "Secret-Canary-Value") {
				t.Errorf("Config.String shows the secret key %q", k.Name)
			}
		}
	}
	for name, f := range fields {
		if !inSchema[name] {
			t.Errorf("Config.%s maps to %q, which the library does not know", f.Name, name)
		}
	}
	for name := range notExposed {
		if !inSchema[name] {
			t.Errorf("notExposed lists %q, which the library does not know", name)
		}
	}
}

func kindIn(k reflect.Kind, ks []reflect.Kind) bool {
	for _, x := range ks {
		if k == x {
			return true
		}
	}
	return false
}

func TestConfigNewFieldsReachTheLibrary(t *testing.T) {
	cfg := testConfig()
	cfg.RetryNonIdempotent = Bool(true)
	cfg.CxoneGrant = "nope"
	if _, err := NewClient(cfg); !IsCode(err, CodeConfig) || !strings.Contains(err.Error(), "cxone_grant") {
		t.Fatalf("bad cxone_grant: %v", err)
	}
	cfg.CxoneGrant = ""
	c := newTestClient(t, cfg)
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTokenWithExpiry(t *testing.T) {
	c := newTestClient(t, testConfig())
	admin(t, "POST", "config", map[string]any{"token_lifetime_s": 120}, nil)
	before := time.Now()
	tok, exp, err := c.TokenWithExpiry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if tok == "" || exp.Before(before.Add(119*time.Second)) || exp.After(after.Add(121*time.Second)) {
		t.Fatalf("expiry %v is not ~120s from now (%v)", exp, before)
	}
	// The cached token comes with the same expiry.
	tok2, exp2, err := c.TokenWithExpiry(context.Background())
	if err != nil || tok2 != tok || !exp2.Equal(exp) {
		t.Fatalf("cached token/expiry differ: %v %v %v", err, exp2, exp)
	}
	// The main package's TokenSource carries it too.
	st, err := c.TokenSource(nil).Token()
	if err != nil || !st.Expiry.Equal(exp) || !st.Valid() {
		t.Fatalf("TokenSource expiry %v, want %v (%v)", st.Expiry, exp, err)
	}
	if (&Token{AccessToken: "x", Expiry: time.Now().Add(-time.Second)}).Valid() {
		t.Fatal("an expired Token is Valid")
	}
	if n := counters(t)["token_requests"]; n != 1 {
		t.Fatalf("token_requests = %d, want 1", n)
	}
}

func TestInvalidateToken(t *testing.T) {
	c := newTestClient(t, testConfig())
	ctx := context.Background()
	t1, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.InvalidateToken(t1); err != nil {
		t.Fatal(err)
	}
	t2, err := c.Token(ctx)
	if err != nil || t2 == t1 {
		t.Fatalf("after InvalidateToken: same token or %v", err)
	}
	// An older token does nothing (compare-and-invalidate), nor does an unknown one.
	if err := c.InvalidateToken(t1); err != nil {
		t.Fatal(err)
	}
	if err := c.InvalidateToken("not-a-token"); err != nil {
		t.Fatal(err)
	}
	if t3, _ := c.Token(ctx); t3 != t2 {
		t.Fatal("an old token invalidated the current one")
	}
	if n := counters(t)["token_requests"]; n != 2 {
		t.Fatalf("token_requests = %d, want 2", n)
	}
	if err := c.InvalidateToken("a\x00b"); !IsCode(err, CodeInvalidArgument) {
		t.Fatalf("NUL: %v", err)
	}
	c.Close()
	if err := c.InvalidateToken(t2); !IsCode(err, CodeClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// checkSetCookies checks the simulator's two Set-Cookie headers on organizations/me.
func checkSetCookies(t *testing.T, how string, h http.Header) {
	t.Helper()
	v := h.Values("Set-Cookie")
	if len(v) != 2 || !strings.HasPrefix(v[0], "AWSALB=") || !strings.HasPrefix(v[1], "AWSALBCORS=") {
		t.Fatalf("%s: Set-Cookie values %q, want AWSALB then AWSALBCORS as two values", how, v)
	}
	if !strings.Contains(v[0], "Expires=") || strings.Contains(v[0], "AWSALBCORS") {
		t.Fatalf("%s: Set-Cookie values joined or split: %q", how, v)
	}
	if h.Get("Inin-Ratelimit-Allowed") != "300" {
		t.Fatalf("%s: other headers: %v", how, h)
	}
}

func TestRepeatedResponseHeadersKeptApart(t *testing.T) {
	c := newTestClient(t, testConfig())
	r, err := c.Get(context.Background(), "/api/v2/organizations/me")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("%v %v", err, r)
	}
	checkSetCookies(t, "Do", r.Header)
	for _, tr := range []*Transport{c.Transport(), {Client: c, Base: http.DefaultTransport}} {
		resp, err := (&http.Client{Transport: tr}).Get(simBase + "/api/v2/organizations/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		checkSetCookies(t, "Transport", resp.Header)
		// http.Client's cookie handling sees both cookies.
		if n := len(resp.Cookies()); n != 2 {
			t.Fatalf("resp.Cookies() = %d cookies, want 2", n)
		}
	}
}

// countingTransport counts the requests it sends and the bearer tokens they carry.
type countingTransport struct {
	base   http.RoundTripper
	sends  atomic.Int32
	tokens chan string
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ct.sends.Add(1)
	select {
	case ct.tokens <- strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "):
	default:
	}
	return ct.base.RoundTrip(r)
}

func TestTransportWithBase401InvalidatesAndRetriesOnce(t *testing.T) {
	c := newTestClient(t, testConfig())
	ct := &countingTransport{base: http.DefaultTransport, tokens: make(chan string, 16)}
	hc := &http.Client{Transport: &Transport{Client: c, Base: ct}, Timeout: 30 * time.Second}
	do := func(req *http.Request) (int, string) {
		t.Helper()
		ct.sends.Store(0)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get, _ := http.NewRequest("GET", simBase+"/api/v2/tokens/me", nil)
	if st, _ := do(get); st != 200 || ct.sends.Load() != 1 {
		t.Fatalf("GET: %d after %d sends", st, ct.sends.Load())
	}
	first := <-ct.tokens
	if tok, _ := c.Token(context.Background()); tok != first {
		t.Fatal("the Transport did not send the client's token")
	}

	// Revoked: 401, invalidate, new token, one replay.
	admin(t, "POST", "revoke", nil, nil)
	if st, _ := do(get); st != 200 || ct.sends.Load() != 2 {
		t.Fatalf("GET after revoke: %d after %d sends", st, ct.sends.Load())
	}
	if stale, fresh := <-ct.tokens, <-ct.tokens; stale != first || fresh == first {
		t.Fatal("the replay did not carry a new token")
	}
	if n := counters(t)["token_requests"]; n != 2 {
		t.Fatalf("token_requests = %d, want 2", n)
	}

	// A body with GetBody (http.NewRequest with a strings.Reader) is replayed in full.
	admin(t, "POST", "revoke", nil, nil)
	post, _ := http.NewRequest("POST", simBase+"/api/v2/echo/replay", strings.NewReader("payload"))
	st, body := do(post)
	if st != 200 || ct.sends.Load() != 2 || !strings.Contains(body, `"body":"payload"`) {
		t.Fatalf("POST with GetBody after revoke: %d after %d sends: %s", st, ct.sends.Load(), body)
	}

	// A body without GetBody cannot be replayed: the 401 is returned, the token invalidated.
	admin(t, "POST", "revoke", nil, nil)
	post, _ = http.NewRequest("POST", simBase+"/api/v2/echo/once", io.NopCloser(strings.NewReader("payload")))
	if post.GetBody != nil {
		t.Fatal("test setup: GetBody is set")
	}
	if st, _ := do(post); st != 401 || ct.sends.Load() != 1 {
		t.Fatalf("POST without GetBody after revoke: %d after %d sends", st, ct.sends.Load())
	}
	if n := counters(t)["token_requests"]; n != 3 {
		t.Fatalf("token_requests = %d, want 3", n)
	}
	if st, _ := do(get); st != 200 || ct.sends.Load() != 1 { // the next call has a new token
		t.Fatalf("GET after the invalidated token: %d after %d sends", st, ct.sends.Load())
	}

	// A 401 that persists is returned after one replay, not retried forever.
	fault(t, map[string]any{"target": "api", "count": 5, "action": map[string]any{"kind": "status", "status": 401}})
	if st, _ := do(get); st != 401 || ct.sends.Load() != 2 {
		t.Fatalf("persistent 401: %d after %d sends", st, ct.sends.Load())
	}
}

func TestTransportLibrary401RefreshesOnce(t *testing.T) {
	c := newTestClient(t, testConfig())
	hc := &http.Client{Transport: c.Transport()}
	post := func() int {
		req, _ := http.NewRequest("POST", simBase+"/api/v2/echo/x", io.NopCloser(strings.NewReader("payload")))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && !strings.Contains(string(b), `"body":"payload"`) {
			t.Fatalf("body not sent: %s", b)
		}
		return resp.StatusCode
	}
	if st := post(); st != 200 {
		t.Fatalf("POST: %d", st)
	}
	// The library holds the body, so even a request without GetBody is replayed after a 401.
	admin(t, "POST", "revoke", nil, nil)
	if st := post(); st != 200 {
		t.Fatalf("POST after revoke: %d", st)
	}
	if n := counters(t); n["token_requests"] != 2 || n["api_requests"] != 3 {
		t.Fatalf("counters %v, want 2 token and 3 API requests", n)
	}
}

// The number, object and pacing/idle keys: their JSON shape, and the library accepts them
// (the gateway routed to the simulator over loopback http).
func TestConfigNumberAndObjectKeysReachTheLibrary(t *testing.T) {
	u, err := url.Parse(simBase)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	cfg := testConfig()
	cfg.TokenURL, cfg.APIBase = "", ""
	cfg.RefreshAtFraction = 0.75
	cfg.TokenIdleTimeoutS = 600
	cfg.RateLimitPacing = Bool(false)
	cfg.Gateway = &Gateway{Host: u.Hostname(), Protocol: "http", Port: port}
	raw, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	gw, _ := m["gateway"].(map[string]any)
	if m["refresh_at_fraction"] != 0.75 || m["token_idle_timeout_s"] != 600.0 || m["rate_limit_pacing"] != false ||
		gw["host"] != u.Hostname() || gw["protocol"] != "http" || gw["port"] != float64(port) || len(gw) != 3 {
		t.Fatalf("config JSON: %s", raw)
	}
	if s := cfg.String(); !strings.Contains(s, `"gateway":{"host"`) || !strings.Contains(s, `"refresh_at_fraction":0.75`) {
		t.Fatalf("String: %s", s)
	}
	c := newTestClient(t, cfg)
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), "GET", "/api/v2/organizations/me", nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("API call through the gateway: %v %v", resp, err)
	}
	bad := testConfig()
	bad.RefreshAtFraction = 0.99
	if _, err := NewClient(bad); !IsCode(err, CodeConfig) || !strings.Contains(err.Error(), "refresh_at_fraction") {
		t.Fatalf("refresh_at_fraction out of range: %v", err)
	}
}
