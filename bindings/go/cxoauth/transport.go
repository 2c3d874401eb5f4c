package cxoauth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transport is an http.RoundTripper adding the client's token to requests, so existing
// http.Client code gets the library's token handling:
//
//	hc := &http.Client{Transport: client.Transport()}
//	resp, err := hc.Get("https://api.mypurecloud.de/api/v2/organizations/me")
//
// The rule: the bearer goes only to the API origin; a 401 from elsewhere is returned as is.
// The API origin is the scheme, host and port of APIBase, by default the client's configured
// api_base (Client.APIBase). A request for any other origin (a link elsewhere, a redirect
// that http.Client follows to another host) is sent without the token and its response,
// a 401 included, is returned untouched: no invalidation, no new token, no resend.
//
// With Base nil (the default) requests for the API origin are sent by the library
// (Client.Do): its retry policy applies (401 → the rejected token is invalidated, a new one
// fetched and the request retried once; 429 Retry-After; 5xx for idempotent methods), the
// request body is read into memory first, and the request's Authorization, Host,
// Content-Length, Transfer-Encoding and Connection headers are dropped: the library sets
// them. A redirect that http.Client follows to another origin goes to http.DefaultTransport
// as it is (no token; its response returned untouched). A request of your own for another
// host is refused by the library with a CodeInvalidArgument *Error (wrapped by http.Client in
// a *url.Error), before anything is sent. Without a configured api_base (nor APIBase) the
// API origin becomes known from the first absolute URL the library accepts (it accepts only
// its API origin); until then a redirect to another host is refused like a request.
//
// With Base set, Base sends every request (streamed bodies, your own proxy, TLS and
// connection settings). A request for the API origin gets "Authorization: Bearer <token>"
// from Client.TokenWithExpiry, like golang.org/x/oauth2's Transport; on its 401 the sent token
// is invalidated (Client.InvalidateToken) and a replayable request (no body, or req.GetBody
// set, as http.NewRequest does for in-memory bodies) is sent once more with a new token; a
// non-replayable one returns the 401. The library's other retries do not apply. Requests for
// other origins go to Base untouched. With Base set the API base must be known: without one,
// every request fails with a CodeInvalidArgument *Error naming APIBase, and nothing is sent.
//
// Either way the response keeps repeated headers (Set-Cookie, ...) as separate values, in the
// order received, and the request context cancels the call.
type Transport struct {
	Client *Client
	// Base sends the requests when set (see above); nil sends them through the library.
	Base http.RoundTripper
	// APIBase is the API base URL whose origin (scheme, host, port) gets the token; "" means
	// Client.APIBase(), the configured api_base. Needed when the config has no api_base (a
	// Genesys region: e.g. "https://api.mypurecloud.de"; CXone; discovery), as the library
	// does not report the API base it derives.
	APIBase string
}

// NewTransport returns a Transport sending through c (Base nil).
func NewTransport(c *Client) *Transport { return &Transport{Client: c} }

// Transport returns an http.RoundTripper sending through c (Base nil).
func (c *Client) Transport() *Transport { return NewTransport(c) }

var libraryHeaders = []string{"Authorization", "Host", "Content-Length", "Transfer-Encoding", "Connection"}

// origin is the scheme, host and port of an absolute http(s) URL.
type origin struct {
	scheme, host, port string
}

// originOf returns the origin of an absolute http(s) URL: scheme and host lower-cased, a
// trailing dot dropped from the host, the default port filled in. ok is false for anything
// else (relative URLs, other schemes, no host).
func originOf(raw string) (o origin, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return origin{}, false
	}
	return urlOrigin(u)
}

func urlOrigin(u *url.URL) (origin, bool) {
	if u == nil {
		return origin{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if (scheme != "http" && scheme != "https") || host == "" || port == "" {
		return origin{}, false
	}
	return origin{scheme, host, port}, true
}

// apiOrigin returns the origin the token is for; ok is false when no API base is known.
// Without a configured one, the library's own choice counts once seen: the origin of an
// absolute URL it accepted (it accepts only its API origin).
func (t *Transport) apiOrigin() (origin, bool, error) {
	base := t.APIBase
	if base == "" && t.Client != nil {
		base = t.Client.apiBase
	}
	if base == "" {
		if t.Client != nil {
			if o := t.Client.learned.Load(); o != nil {
				return *o, true, nil
			}
		}
		return origin{}, false, nil
	}
	o, ok := originOf(base)
	if !ok {
		return origin{}, false, &Error{Code: CodeInvalidArgument,
			Message: fmt.Sprintf("the API base %q is not an absolute http(s) URL", base)}
	}
	return o, true, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper always closes the request body
		}
	}
	if req.URL == nil {
		closeBody()
		return nil, &Error{Code: CodeInvalidArgument, Message: "request has no URL"}
	}
	api, known, err := t.apiOrigin()
	if err != nil {
		closeBody()
		return nil, err
	}
	forAPI := false
	if known {
		o, ok := urlOrigin(req.URL)
		forAPI = ok && o == api
	}
	if t.Base != nil {
		if !known {
			closeBody()
			return nil, &Error{Code: CodeInvalidArgument, Message: "the API base is not known " +
				"(the config has no api_base): set Transport.APIBase, so that only the API origin gets the token"}
		}
		if !forAPI {
			return t.Base.RoundTrip(req) // another origin: untouched, no token
		}
		return t.roundTripBase(req, api)
	}
	absolute := req.URL.Scheme != "" || req.URL.Host != ""
	if known && !forAPI && absolute && req.Response != nil {
		// A redirect http.Client follows to another origin: sent as it is, without the token,
		// and its response (a 401 too) returned untouched.
		return http.DefaultTransport.RoundTrip(req)
	}
	// The API origin, or a request of the caller's own for another host, which the library
	// refuses (CodeInvalidArgument).
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cxoauth: reading the request body: %w", err)
		}
	}
	target := req.URL.RequestURI()
	if req.URL.Scheme != "" || req.URL.Host != "" {
		target = req.URL.String()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	header := req.Header.Clone()
	for _, k := range libraryHeaders {
		header.Del(k)
	}
	r, err := t.Client.Do(req.Context(), method, target, header, body)
	if err != nil {
		return nil, err
	}
	if absolute && !known {
		if o, ok := urlOrigin(req.URL); ok {
			t.Client.learned.CompareAndSwap(nil, &o) // the library took it: its API origin
		}
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", r.StatusCode, http.StatusText(r.StatusCode)),
		StatusCode:    r.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.Header, // repeated headers as separate values, order kept
		Body:          io.NopCloser(bytes.NewReader(r.Body)),
		ContentLength: int64(len(r.Body)),
		Request:       req,
	}, nil
}

// replayable reports whether req can be sent again: no body, or a GetBody to get a new one.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// roundTripBase sends req, a request for the API origin api, through t.Base with the client's
// token; see Transport.
func (t *Transport) roundTripBase(req *http.Request, api origin) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	tok, _, err := t.Client.TokenWithExpiry(req.Context())
	if err != nil {
		closeBody() // a RoundTripper always closes the request body
		return nil, err
	}
	resp, err := t.Base.RoundTrip(withToken(req, req.Body, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// A Base that follows redirects itself (against the RoundTripper contract) may answer
	// from another origin: that 401 says nothing about the token.
	if resp.Request != nil {
		if o, ok := urlOrigin(resp.Request.URL); !ok || o != api {
			return resp, nil
		}
	}
	// The token was rejected: drop it from the library's cache (unless it has already been
	// replaced: compare-and-invalidate), then replay the request once with a new one.
	_ = t.Client.InvalidateToken(tok)
	if !replayable(req) {
		return resp, nil
	}
	body := req.Body
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			return resp, nil // cannot replay: the 401 is the answer
		}
	}
	tok2, _, err := t.Client.TokenWithExpiry(req.Context())
	if err != nil {
		if body != req.Body {
			body.Close()
		}
		return resp, nil // no new token: the 401 is the answer
	}
	// Only now is the first response discarded (drained, so its connection is reused).
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	return t.Base.RoundTrip(withToken(req, body, tok2))
}

// withToken returns a shallow copy of req (a RoundTripper must not modify its request) with
// body and the Authorization header.
func withToken(req *http.Request, body io.ReadCloser, token string) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// Token is an access token shaped like golang.org/x/oauth2's Token (without importing it;
// the oauth2 subpackage returns a real *oauth2.Token).
type Token struct {
	AccessToken string
	TokenType   string // always "Bearer"
	// Expiry is when the server said the token expires (oauth_get_token_ex). The library
	// refreshes its cache before then (refresh_margin_s), so asking the TokenSource each time
	// is cheap; a cache of your own (oauth2.ReuseTokenSource) may keep it until Expiry.
	Expiry time.Time
}

// Type returns the token type ("Bearer").
func (t *Token) Type() string {
	if t.TokenType == "" {
		return "Bearer"
	}
	return t.TokenType
}

// SetAuthHeader sets the Authorization header of r.
func (t *Token) SetAuthHeader(r *http.Request) {
	r.Header.Set("Authorization", t.Type()+" "+t.AccessToken)
}

// Valid reports whether the token is non-empty and not past its Expiry.
func (t *Token) Valid() bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || time.Now().Before(t.Expiry))
}

// String never shows the token itself.
func (t *Token) String() string { return t.Type() + " <redacted>" }

// GoString never shows the token itself.
func (t *Token) GoString() string { return t.String() }

// TokenSource is an oauth2.TokenSource-style adapter: Token() returns the client's current
// (cached, refreshed) token with its expiry. For a real golang.org/x/oauth2.TokenSource use
// the oauth2 subpackage.
type TokenSource struct {
	client *Client
	ctx    context.Context
}

// TokenSource returns a token source using ctx for every Token call (nil: Background).
func (c *Client) TokenSource(ctx context.Context) *TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &TokenSource{client: c, ctx: ctx}
}

// Token returns the client's current access token and its expiry.
func (s *TokenSource) Token() (*Token, error) {
	tok, exp, err := s.client.TokenWithExpiry(s.ctx)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: tok, TokenType: "Bearer", Expiry: exp}, nil
}
