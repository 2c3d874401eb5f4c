// Package cxoauth is the Go binding of cxoauth, a native OAuth2 client-credentials library for
// Genesys Cloud CX (and NICE CXone or any OAuth2 server): tokens fetched once per credential
// set and cached (single-flight, proactive refresh), and authenticated REST calls with a retry
// policy (401 → refresh and retry once, 429 Retry-After, 5xx for idempotent methods, timeouts,
// a whole-call deadline).
//
//	import "github.com/cxoauth/cxoauth/bindings/go/cxoauth"
//
// The package uses cgo and links libcxoauth; the C header ships inside the package (a copy of
// the library's include/cxoauth.h), so only the library itself must be installed. By default
// it links -lcxoauth from the linker's default path; a library under another prefix is added
// through the cgo environment:
//
//	CGO_LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib" go build ./...
//
// or, with pkg-config and the installed cxoauth.pc (PKG_CONFIG_PATH for another prefix):
//
//	go build -tags cxoauth_pkgconfig ./...
//
// One Client per credential set is meant to be shared by all goroutines. The oauth2
// subpackage adapts a Client to golang.org/x/oauth2.
package cxoauth

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cxoauth.h"

// The completion callbacks (callbacks.go); userdata is a cgo.Handle of the call's channel.
extern void cxoauthGoRequestDone(void*, oauth_result, oauth_response*, oauth_error*);
extern void cxoauthGoTokenDone(void*, oauth_result, char*, uint64_t, oauth_error*);

static oauth_result cxoauth_request_go(oauth_client* c, const char* method, const char* path,
		const char* const* headers, const uint8_t* body, size_t body_len, const char* options,
		const oauth_cancel_token* cancel, uintptr_t handle) {
	return oauth_request_async_ex(c, method, path, headers, body, body_len, options, cancel,
		cxoauthGoRequestDone, (void*)handle);
}

static oauth_result cxoauth_token_go(oauth_client* c, const oauth_cancel_token* cancel,
		uintptr_t handle) {
	return oauth_get_token_async(c, cancel, cxoauthGoTokenDone, (void*)handle);
}
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"runtime"
	"runtime/cgo"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Version returns the version of the loaded libcxoauth, e.g. "0.2.0".
func Version() string { return C.GoString(C.oauth_version()) }

// ConfigSchema returns the configuration keys the loaded library accepts, as the JSON document
// of oauth_config_schema(): {"version", "keys": [{"name", "type", "default", "minimum",
// "maximum", "enum", "env", "secret", "description"}]}. Config has one field per key (checked
// by this package's tests).
func ConfigSchema() string { return C.GoString(C.oauth_config_schema()) }

// Config is the client configuration; it is marshalled to the library's JSON config. Zero
// values are omitted, so the library takes them from its defaults or the environment
// (GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION, ...).
// The fields where 0 is a meaningful value are pointers: use Int(0). See the library README
// for the meaning of each key. String and %v never show the secrets.
type Config struct {
	Platform        string `json:"platform,omitempty"` // "genesys" (default), "cxone", "generic"
	Region          string `json:"region,omitempty"`   // e.g. "eu-central-1" or "mypurecloud.de"
	Issuer          string `json:"issuer,omitempty"`   // OpenID issuer (CXone / generic)
	TokenURL        string `json:"token_url,omitempty"`
	APIBase         string `json:"api_base,omitempty"`
	ClientID        string `json:"client_id,omitempty"`
	ClientSecret    string `json:"client_secret,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`     // CXone only
	AccessKeySecret string `json:"access_key_secret,omitempty"` // CXone only
	CxoneGrant      string `json:"cxone_grant,omitempty"`       // CXone: "password" (default) or "access_key_legacy"
	CxoneArea       string `json:"cxone_area,omitempty"`        // CXone legacy grant: area (na1, eu1, au1, ...)
	ClientAuth      string `json:"client_auth,omitempty"`       // "basic" (default) or "body"
	Scope           string `json:"scope,omitempty"`
	RefreshMarginS  *int   `json:"refresh_margin_s,omitempty"` // default 60
	// RefreshAtFraction: proactive refresh starts at this fraction of the token's lifetime
	// (0.1 to 0.95, default 0.5; RefreshMarginS still bounds it from the end). 0: not set.
	RefreshAtFraction float64 `json:"refresh_at_fraction,omitempty"`
	// TokenIdleTimeoutS: a cached token unused this long is treated as revoked (the org's
	// inactivity timeout); 0 (default): off.
	TokenIdleTimeoutS int  `json:"token_idle_timeout_s,omitempty"`
	TimeoutMS         int  `json:"timeout_ms,omitempty"`  // per attempt, default 10000
	DeadlineMS        int  `json:"deadline_ms,omitempty"` // whole call, default 60000
	MaxRetries        *int `json:"max_retries,omitempty"` // default 3
	// RetryNonIdempotent also retries POST/PATCH after 502-504 or a failure after sending
	// (default false: only when nothing was sent).
	RetryNonIdempotent *bool `json:"retry_non_idempotent,omitempty"`
	MaxRetryAfterS     *int  `json:"max_retry_after_s,omitempty"` // default 180
	// RateLimitPacing paces API calls to the replies' rate-limit headers (default true).
	RateLimitPacing *bool `json:"rate_limit_pacing,omitempty"`
	// TokenPoolSize: access tokens this client holds, each with its own API quota (1-20;
	// 0: not set, default 1); more are fetched as load needs them.
	TokenPoolSize int `json:"token_pool_size,omitempty"`
	// TokenPoolFillIntervalMS: another pool token is fetched at most this often (default
	// 1000; nil: not set).
	TokenPoolFillIntervalMS *int   `json:"token_pool_fill_interval_ms,omitempty"`
	BackoffBaseMS           int    `json:"backoff_base_ms,omitempty"` // default 200
	BackoffMaxMS            int    `json:"backoff_max_ms,omitempty"`  // default 10000
	MaxBodyBytes            int64  `json:"max_body_bytes,omitempty"`  // default 16 MiB
	UserAgent               string `json:"user_agent,omitempty"`
	Proxy                   string `json:"proxy,omitempty"`
	CAFile                  string `json:"ca_file,omitempty"`
	EnvFile                 string `json:"env_file,omitempty"`
	// TokenCache shares tokens between processes: "memory" (default), "file:///absolute/dir",
	// "redis://[user:password@]host:port[/db]" or "rediss://..." (secret: may hold a password).
	TokenCache       string `json:"token_cache,omitempty"`
	TokenCachePrefix string `json:"token_cache_prefix,omitempty"` // key namespace, default "cxoauth"
	// MetricsName is the client label of oauth_client_metrics (default: a hash of the client id).
	MetricsName string `json:"metrics_name,omitempty"`

	// Client certificate (mTLS), PEM files or inline PEM text (secret: ClientKeyPEM).
	ClientCertFile string `json:"client_cert_file,omitempty"`
	ClientKeyFile  string `json:"client_key_file,omitempty"`
	ClientCertPEM  string `json:"client_cert_pem,omitempty"`
	ClientKeyPEM   string `json:"client_key_pem,omitempty"`

	// private_key_jwt: the PEM signing key (RSA or EC P-256), "RS256" (default), "PS256" or
	// "ES256", and the optional kid header.
	ClientAssertionKeyFile string `json:"client_assertion_key_file,omitempty"`
	ClientAssertionAlg     string `json:"client_assertion_alg,omitempty"`
	ClientAssertionKid     string `json:"client_assertion_kid,omitempty"`

	// TokenProxy and APIProxy override Proxy for the login side and the API requests.
	TokenProxy string `json:"token_proxy,omitempty"`
	APIProxy   string `json:"api_proxy,omitempty"`

	// Gateway routes the token endpoint and the API through an egress gateway (nil: none).
	Gateway *Gateway `json:"gateway,omitempty"`

	// Extra holds keys this struct does not know yet; they are merged into the JSON (and
	// override the typed fields). Unknown keys are a CodeConfig error in the library.
	Extra map[string]any `json:"-"`
}

// Gateway is the "gateway" key of Config: the token endpoint becomes
// Protocol://Host:Port{LoginPathPrefix}/oauth/token and the API base
// Protocol://Host:Port{APIPathPrefix}. Zero values are omitted (library defaults).
type Gateway struct {
	Host            string `json:"host,omitempty"`              // required
	Protocol        string `json:"protocol,omitempty"`          // "https" (default) or "http" (loopback only)
	Port            int    `json:"port,omitempty"`              // default 443 (https) or 80 (http)
	LoginPathPrefix string `json:"login_path_prefix,omitempty"` // e.g. "/login"
	APIPathPrefix   string `json:"api_path_prefix,omitempty"`   // e.g. "/api"
}

// Int returns a pointer to v, for the *int fields of Config.
func Int(v int) *int { return &v }

// Bool returns a pointer to v, for the *bool fields of Config.
func Bool(v bool) *bool { return &v }

// JSON returns the JSON config the library receives. It contains the secrets (unlike
// json.Marshal of a Config, which redacts them: see MarshalJSON).
func (c Config) JSON() ([]byte, error) {
	b, err := json.Marshal(configJSON(c))
	if err != nil || len(c.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	return json.Marshal(m)
}

type configJSON Config // without the methods, so %v of the alias cannot recurse

// redacted is c with the secrets replaced by "<redacted>" (the proxy, which may hold a
// password, by "<set>") and without Extra (whose values may be secrets too).
func (c Config) redacted() configJSON {
	r := configJSON(c)
	for _, s := range []*string{&r.ClientSecret, &r.AccessKeySecret, &r.TokenCache, &r.ClientKeyPEM} {
		if *s != "" {
			*s = "<redacted>"
		}
	}
	if r.Proxy != "" {
		r.Proxy = "<set>"
	}
	r.Extra = nil
	return r
}

// extraKeys returns the names (never the values) of the Extra keys, sorted.
func (c Config) extraKeys() []string {
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String describes the config with secrets redacted.
func (c Config) String() string {
	b, _ := json.Marshal(c.redacted())
	if len(c.Extra) > 0 {
		return fmt.Sprintf("cxoauth.Config%s (+ extra keys %v)", b, c.extraKeys())
	}
	return "cxoauth.Config" + string(b)
}

// MarshalJSON encodes the config with secrets redacted, as String does, so json.Marshal of a
// Config (or of anything holding one) and JSON loggers never print them. Extra is left out.
// The library's config, with the real values, is Config.JSON().
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

// LogValue implements slog.LogValuer: the redacted fields as a group (plus "extra_keys", the
// names of the Extra keys), for any slog handler.
func (c Config) LogValue() slog.Value {
	b, err := json.Marshal(c.redacted())
	m := map[string]any{}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return slog.StringValue("cxoauth.Config(unprintable)")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys)+1)
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	if len(c.Extra) > 0 {
		attrs = append(attrs, slog.Any("extra_keys", c.extraKeys()))
	}
	return slog.GroupValue(attrs...)
}

// GoString is String, so %#v does not show the secrets either.
func (c Config) GoString() string { return c.String() }

// Client is a thread-safe handle on one credential set: token cache, connection pool and
// retry policy. Create it with NewClient or NewClientJSON, share it between goroutines, and
// Close it when done (a finalizer frees it if you forget, but do not rely on it).
//
// Lifetime: the close-then-free protocol of docs/ABI.md. Close calls oauth_close, which ends the calls in flight
// promptly; the native client is freed (oauth_free) exactly once, when no call is in flight
// any more: by Close itself when none is running, else by the last call to return.
type Client struct {
	apiBase  string                 // the configured api_base ("" when the library derives it)
	learned  atomic.Pointer[origin] // the origin of an absolute URL the library accepted (the API origin)
	mu       sync.Mutex             // guards the fields below; held across no library call but oauth_close
	h        *C.oauth_client        // nil once freed
	inflight int                    // calls between enter and leave
	closed   bool                   // Close was called: no new call may enter
}

// APIBase returns the "api_base" the client was configured with, or "" when the config had
// none (a Genesys region, CXone or discovery: the library derives the API base itself and
// does not report it). The Transport gives the token only to this origin (see
// Transport.APIBase).
func (c *Client) APIBase() string { return c.apiBase }

// configuredAPIBase reads "api_base" from a JSON config ("" when absent or malformed: the
// library reports a malformed config itself).
func configuredAPIBase(config []byte) string {
	var probe struct {
		APIBase string `json:"api_base"`
	}
	if len(bytes.TrimSpace(config)) == 0 || json.Unmarshal(config, &probe) != nil {
		return ""
	}
	return probe.APIBase
}

// NewClient creates a client from cfg. No network request is made: the first token request
// happens on the first call. Errors are *Error with CodeConfig naming the key.
func NewClient(cfg Config) (*Client, error) {
	b, err := cfg.JSON()
	if err != nil {
		return nil, &Error{Code: CodeConfig, Message: "cannot encode the config: " + err.Error()}
	}
	defer clear(b)
	return newClient(b)
}

// NewClientJSON creates a client from a JSON config object (see the library README);
// "" or "{}" takes everything from the environment.
func NewClientJSON(config string) (*Client, error) {
	return newClient([]byte(config))
}

func newClient(config []byte) (*Client, error) {
	if bytes.IndexByte(config, 0) >= 0 {
		return nil, &Error{Code: CodeInvalidArgument, Message: "the config contains a NUL byte"}
	}
	n := len(config)
	buf := (*C.char)(C.malloc(C.size_t(n + 1)))
	cfg := unsafe.Slice((*byte)(unsafe.Pointer(buf)), n+1)
	copy(cfg, config)
	cfg[n] = 0
	defer func() {
		C.memset(unsafe.Pointer(buf), 0, C.size_t(n+1)) // the secret does not linger in C memory
		C.free(unsafe.Pointer(buf))
	}()
	var h *C.oauth_client
	var cerr *C.oauth_error
	if rc := C.oauth_client_new(buf, &h, &cerr); rc != C.OAUTH_OK {
		return nil, newError(rc, cerr, nil)
	}
	c := &Client{h: h, apiBase: configuredAPIBase(config)}
	// GC backstop: it can only run once c is unreachable, hence with no call in flight (every
	// call keeps c alive until it has left). (runtime.AddCleanup would be preferred from
	// go1.24; SetFinalizer keeps the package buildable with go1.22.)
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// Close shuts the client down: the calls in flight return promptly with CodeCancelled errors
// wrapping ErrClosed, and every call made afterwards returns a CodeClosed error wrapping
// ErrClosed. Close does not wait for the calls in flight: the native client is freed by Close
// when none is running, otherwise by the last of them as it returns. Idempotent, safe to call
// concurrently with any call and with itself; it always returns nil.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	h := c.h
	if h != nil {
		// Under the lock, so no call can free h meanwhile; oauth_close does not block.
		C.oauth_close(h)
		dropEvents(h) // events.go: the library calls the event function no more
	}
	free := c.inflight == 0 && h != nil
	if free {
		c.h = nil
	}
	c.mu.Unlock()
	runtime.SetFinalizer(c, nil)
	if free {
		C.oauth_free(h) // no call is in flight and none can start: oauth_free overlaps nothing
	}
	return nil
}

func closedError() error {
	return &Error{Code: CodeClosed, Message: "the client is closed", cause: ErrClosed}
}

// enter registers a call in flight and returns the handle it may use until leave; nil when
// the client is closed.
func (c *Client) enter() *C.oauth_client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.h == nil {
		return nil
	}
	c.inflight++
	return c.h
}

// leave ends a call registered by enter; the last call to leave a closed client frees it.
// It reports whether the client was closed by then.
func (c *Client) leave() (closed bool) {
	c.mu.Lock()
	c.inflight--
	var h *C.oauth_client
	if c.closed && c.inflight == 0 {
		h, c.h = c.h, nil
	}
	closed = c.closed
	c.mu.Unlock()
	if h != nil {
		C.oauth_free(h)
	}
	return closed
}

// call runs fn with the client handle, registered as a call in flight, and, when ctx can be
// cancelled, a cancellation token that is cancelled when ctx is done.
func (c *Client) call(ctx context.Context,
	fn func(h *C.oauth_client, tok *C.oauth_cancel_token, cerr **C.oauth_error) C.oauth_result) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if c == nil {
		return closedError()
	}
	if err := ctx.Err(); err != nil {
		return &Error{Code: CodeCancelled, Message: "cancelled before the call started", cause: err}
	}
	h := c.enter()
	if h == nil {
		return closedError()
	}
	var tok *C.oauth_cancel_token
	if done := ctx.Done(); done != nil {
		var cerr *C.oauth_error
		if rc := C.oauth_cancel_token_new(&tok, &cerr); rc != C.OAUTH_OK {
			c.leave()
			return newError(rc, cerr, nil)
		}
		finished := make(chan struct{})
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			select {
			case <-done:
				C.oauth_cancel_token_cancel(tok)
			case <-finished:
			}
		}()
		defer func() {
			close(finished)
			<-exited // the watcher no longer touches tok
			C.oauth_cancel_token_free(tok)
		}()
	}
	var cerr *C.oauth_error
	rc := fn(h, tok, &cerr)
	closed := c.leave() // h must not be used from here on
	if rc == C.OAUTH_OK {
		return nil
	}
	var cause error
	switch ResultCode(rc) {
	case CodeCancelled:
		if err := ctx.Err(); err != nil {
			cause = err
		} else if closed {
			cause = ErrClosed
		}
	case CodeClosed:
		cause = ErrClosed
	}
	return newError(rc, cerr, cause)
}

// callAsync starts an asynchronous library call (start, given the handle, the cancellation
// token or nil, and the cgo.Handle to pass as userdata) and waits for its completion without
// holding an OS thread: the goroutine parks on a channel that the done callback (callbacks.go)
// sends to, from the library's completion thread. When ctx is done first, the call's
// cancellation token is cancelled and the completion, which then comes promptly with
// CodeCancelled, is still awaited: the call stays registered in flight (so Close and the last
// call to leave free the native client only after every done has run) and its cancellation
// token alive until then. On success the completion's pointers belong to the caller.
func (c *Client) callAsync(ctx context.Context,
	start func(h *C.oauth_client, tok *C.oauth_cancel_token, handle C.uintptr_t) C.oauth_result) (completion, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if c == nil {
		return completion{}, closedError()
	}
	if err := ctx.Err(); err != nil {
		return completion{}, &Error{Code: CodeCancelled, Message: "cancelled before the call started", cause: err}
	}
	h := c.enter()
	if h == nil {
		return completion{}, closedError()
	}
	var tok *C.oauth_cancel_token
	ctxDone := ctx.Done()
	if ctxDone != nil {
		var cerr *C.oauth_error
		if rc := C.oauth_cancel_token_new(&tok, &cerr); rc != C.OAUTH_OK {
			c.leave()
			return completion{}, newError(rc, cerr, nil)
		}
	}
	ch := make(chan completion, 1)
	handle := cgo.NewHandle(ch)
	var r completion
	if rc := start(h, tok, C.uintptr_t(handle)); rc != C.OAUTH_OK {
		// Rejected: done is never called. The library gives no oauth_error here.
		handle.Delete()
		r = completion{rc: rc}
	} else if ctxDone == nil {
		r = <-ch
	} else {
		select {
		case r = <-ch:
		case <-ctxDone:
			C.oauth_cancel_token_cancel(tok)
			r = <-ch // prompt: the call ends with OAUTH_ERR_CANCELLED (or had just finished)
		}
	}
	if tok != nil {
		C.oauth_cancel_token_free(tok)
	}
	closed := c.leave() // h must not be used from here on
	if r.rc == C.OAUTH_OK {
		return r, nil
	}
	var cause error
	switch ResultCode(r.rc) {
	case CodeCancelled:
		if err := ctx.Err(); err != nil {
			cause = err
		} else if closed {
			cause = ErrClosed
		}
	case CodeClosed:
		cause = ErrClosed
	}
	if r.cerr == nil && ResultCode(r.rc) == CodeInvalidArgument {
		return completion{}, &Error{Code: CodeInvalidArgument, cause: cause,
			Message: "invalid argument: a method that is not an HTTP token, a malformed or reserved header, a URL on another host than the API base, or a bad call option"}
	}
	return completion{}, newError(r.rc, r.cerr, cause)
}

// newError copies an oauth_error into an *Error and frees it.
func newError(rc C.oauth_result, cerr *C.oauth_error, cause error) error {
	e := &Error{Code: ResultCode(rc), cause: cause}
	if cerr != nil {
		e.Message = C.GoString(C.oauth_error_message(cerr))
		e.HTTPStatus = int(C.oauth_error_http_status(cerr))
		if s := C.oauth_error_oauth_code(cerr); s != nil {
			e.OAuthCode = C.GoString(s)
		}
		if s := C.oauth_error_correlation_id(cerr); s != nil {
			e.CorrelationID = C.GoString(s)
		}
		C.oauth_error_free(cerr)
	}
	if e.Message == "" {
		e.Message = e.Code.String()
	}
	return e
}

// Token returns a valid access token (without "Bearer "). A cached token is returned without
// I/O; concurrent callers share one token request. ctx cancellation and deadline abort the
// call (the error then satisfies errors.Is(err, ctx.Err())). Like Do, it waits for the
// library's completion callback (oauth_get_token_async) with the goroutine parked, holding no
// OS thread: many calls in flight do not mean many threads.
func (c *Client) Token(ctx context.Context) (string, error) {
	tok, _, err := c.TokenWithExpiry(ctx)
	return tok, err
}

// TokenWithExpiry is Token plus the token's expiry (oauth_get_token_async): the server's
// expires_in counted from when its reply arrived, not reduced by the refresh margin. For code
// that caches the token itself (golang.org/x/oauth2's Token.Expiry): the library refreshes
// its own cache before that time.
func (c *Client) TokenWithExpiry(ctx context.Context) (string, time.Time, error) {
	r, err := c.callAsync(ctx, func(h *C.oauth_client, tok *C.oauth_cancel_token, handle C.uintptr_t) C.oauth_result {
		return C.cxoauth_token_go(h, tok, handle)
	})
	if err != nil {
		return "", time.Time{}, err
	}
	s := C.GoString(r.tok)
	C.oauth_string_free(r.tok) // overwrites the C copy
	return s, time.UnixMilli(int64(r.ms)), nil
}

// InvalidateToken reports that token was rejected (a request of your own got HTTP 401): if it
// is still the cached token the library drops it and the next call fetches a new one; an older
// token does nothing (compare-and-invalidate), so many goroutines reporting the same token
// cause one new fetch. Do and Transport do this themselves.
func (c *Client) InvalidateToken(token string) error {
	if strings.IndexByte(token, 0) >= 0 {
		return &Error{Code: CodeInvalidArgument, Message: "the token contains a NUL byte"}
	}
	cTok := C.CString(token)
	defer func() {
		C.memset(unsafe.Pointer(cTok), 0, C.size_t(len(token)))
		C.free(unsafe.Pointer(cTok))
	}()
	return c.call(context.Background(), func(h *C.oauth_client, _ *C.oauth_cancel_token, _ **C.oauth_error) C.oauth_result {
		return C.oauth_invalidate_token(h, cTok)
	})
}

// Response is a complete HTTP response, copied out of the library.
type Response struct {
	StatusCode int
	// Header holds every response header under its canonical name; a repeated header (e.g.
	// Set-Cookie) has one value per header line, in the order received (never joined).
	Header http.Header
	Body   []byte
}

// Do sends an authenticated request and returns the final response for any HTTP status (after
// the retry policy); an error is returned only when no response or no token could be had.
// path is a path joined to the API base ("/api/v2/users?pageSize=5") or an absolute URL on
// the API host itself (any other host is a CodeInvalidArgument error). Authorization, Host,
// Content-Length, Transfer-Encoding and Connection are set by the library and refused in
// header.
//
// The request runs on the library's runtime (oauth_request_async) while the goroutine waits
// on a channel, holding no OS thread: 64 concurrent Do calls of a second each take about a
// second and a handful of threads. ctx cancellation and deadline abort the call (errors.Is(err,
// ctx.Err()) holds); Close aborts it with a CodeCancelled error wrapping ErrClosed.
//
// opts override the client's configuration for this call (WithDeadline, WithAttemptTimeout,
// WithMaxRetries, Idempotent, ResendAfter401, PacingFailFast).
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, body []byte, opts ...CallOption) (*Response, error) {
	if err := checkNoNUL(header, method, path); err != nil {
		return nil, err
	}
	options, err := optionsJSON(opts)
	if err != nil {
		return nil, err
	}
	var cOptions *C.char
	if options != nil {
		cOptions = C.CString(string(options))
		defer C.free(unsafe.Pointer(cOptions))
	}
	cMethod := C.CString(method)
	defer C.free(unsafe.Pointer(cMethod))
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	cHeaders := headerLines(header)
	defer freeHeaderLines(cHeaders)
	var cBody unsafe.Pointer
	if len(body) > 0 {
		cBody = C.CBytes(body) // a C copy: no Go pointer is handed to the library
		defer C.free(cBody)
	}
	// The library copies the arguments before oauth_request_async returns.
	r, err := c.callAsync(ctx, func(h *C.oauth_client, tok *C.oauth_cancel_token, handle C.uintptr_t) C.oauth_result {
		return C.cxoauth_request_go(h, cMethod, cPath, cHeaders,
			(*C.uint8_t)(cBody), C.size_t(len(body)), cOptions, tok, handle)
	})
	if err != nil {
		return nil, err
	}
	defer C.oauth_response_free(r.resp)
	return copyResponse(r.resp), nil
}

// Get is Do with GET, no extra headers and no body.
func (c *Client) Get(ctx context.Context, path string, opts ...CallOption) (*Response, error) {
	return c.Do(ctx, http.MethodGet, path, nil, nil, opts...)
}

func copyResponse(r *C.oauth_response) *Response {
	resp := &Response{StatusCode: int(C.oauth_response_status(r)), Header: http.Header{}}
	var n C.size_t
	p := C.oauth_response_body(r, &n)
	resp.Body = make([]byte, int(n))
	if n > 0 {
		copy(resp.Body, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	}
	count := C.oauth_response_header_count(r)
	for i := C.size_t(0); i < count; i++ {
		var name, value *C.char
		if C.oauth_response_header_at(r, i, &name, &value) != C.OAUTH_OK {
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(C.GoString(name))
		resp.Header[k] = append(resp.Header[k], C.GoString(value))
	}
	return resp
}

// checkNoNUL refuses strings C would silently truncate.
func checkNoNUL(header http.Header, strs ...string) error {
	for k, vs := range header {
		strs = append(strs, k)
		strs = append(strs, vs...)
	}
	for _, s := range strs {
		if strings.IndexByte(s, 0) >= 0 {
			return &Error{Code: CodeInvalidArgument, Message: "method, path or header contains a NUL byte"}
		}
	}
	return nil
}

// headerLines builds a NULL-terminated C array of "Name: value" strings (nil for no headers).
func headerLines(header http.Header) **C.char {
	names := make([]string, 0, len(header))
	n := 0
	for k, vs := range header {
		names = append(names, k)
		n += len(vs)
	}
	if n == 0 {
		return nil
	}
	sort.Strings(names)
	size := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	arr := (**C.char)(C.calloc(C.size_t(n+1), size))
	lines := unsafe.Slice(arr, n+1)
	i := 0
	for _, k := range names {
		for _, v := range header[k] {
			lines[i] = C.CString(k + ": " + v)
			i++
		}
	}
	return arr
}

func freeHeaderLines(arr **C.char) {
	if arr == nil {
		return
	}
	for p := arr; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		C.free(unsafe.Pointer(*p))
	}
	C.free(unsafe.Pointer(arr))
}
